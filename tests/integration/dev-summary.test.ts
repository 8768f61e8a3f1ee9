/**
 * `npm run dev`'s live summary read from a real database: payments by status
 * and decline reason in the window, the outbox backlog and its lag, and dead
 * letters not redriven; and a read that stays on the primary key however many
 * older payments the table holds.
 */
import { encodeTime } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../lib/ids.ts";
import { formatSummary } from "../../lib/ops/format-summary.ts";
import {
  ID_TIME_SLACK_MS,
  readSummarySample,
  SUMMARY_SAMPLE_SQL,
  summarySampleParams,
} from "../../lib/ops/summary-sample.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";

let fx: LedgerFixture;

beforeAll(async () => {
  fx = await ledgerFixture({ poolMax: 4 });
});

afterAll(async () => {
  await fx?.close();
});

/** A ULID whose time is `ms`. */
function idAt(ms: number): string {
  return encodeTime(ms, 10) + newId().slice(10);
}

describe("the dev summary's sample", () => {
  it("counts the window's payments by status and reason, the backlog, its lag and dead letters not redriven", async () => {
    const { pool, service } = fx;
    const alice = await fx.openFundedAccount(1000n);
    const bob = await fx.openFundedAccount(0n, "EUR", "bob");
    // The funding's events are out of the way; what is pending below is this test's.
    await pool.query("UPDATE outbox SET published_at = now() WHERE published_at IS NULL");

    const baseline = await readSummarySample(pool, null);
    expect(baseline).toMatchObject({ windowMs: 0, authorized: 0, declined: {}, pending: 0, deadLetters: 0 });
    expect(baseline.oldestPendingAgeMs).toBeNull();

    const pay = (payer: string, payee: string, cents: bigint) =>
      service.authorizePayment({
        idempotencyKey: uniqueKey("summary"),
        payerAccountId: payer,
        payeeAccountId: payee,
        amountCents: cents,
        currency: "EUR",
        description: "summary",
      });
    const outcomes = [
      await pay(alice.accountId, bob.accountId, 100n),
      await pay(alice.accountId, bob.accountId, 100n),
      await pay(alice.accountId, bob.accountId, 100n),
      await pay(alice.accountId, bob.accountId, 10_000n),
      await pay(bob.accountId, alice.accountId, 10_000n),
      await pay(newId(), bob.accountId, 100n),
    ];
    expect(outcomes.map((o) => o.decline?.code ?? o.status)).toEqual([
      "AUTHORIZED",
      "AUTHORIZED",
      "AUTHORIZED",
      "INSUFFICIENT_FUNDS",
      "INSUFFICIENT_FUNDS",
      "ACCOUNT_NOT_FOUND",
    ]);
    // The api makes a payment's id just before its transaction: one whose id is
    // older than the window (within the slack) but committed in it is counted.
    await pool.query(
      `INSERT INTO payments (id, idempotency_key, payer_account_id, payee_account_id, amount, currency, status, error_code)
       VALUES ($1, $2, $3, $4, 1, 'EUR', 'DECLINED', 'SAME_ACCOUNT')`,
      [
        idAt(baseline.at.getTime() - ID_TIME_SLACK_MS / 2),
        uniqueKey("slack"),
        alice.accountId,
        alice.accountId,
      ],
    );

    // Of the six events: one published, one dead-lettered, the oldest pending 42 s old.
    const { rows: events } = await pool.query<{ id: string }>(
      "SELECT id FROM outbox WHERE published_at IS NULL ORDER BY seq",
    );
    expect(events).toHaveLength(6);
    const [published, deadLettered, oldest] = events.map((e) => e.id) as [string, string, string];
    await pool.query("UPDATE outbox SET published_at = now() WHERE id = $1", [published]);
    await pool.query("UPDATE outbox SET dead_lettered_at = now(), attempts = 5 WHERE id = $1", [
      deadLettered,
    ]);
    await pool.query("UPDATE outbox SET created_at = now() - interval '42 seconds' WHERE id = $1", [oldest]);
    for (const [eventId, redriven] of [
      [deadLettered, false],
      [newId(), false],
      [newId(), true],
    ] as const) {
      await pool.query(
        `INSERT INTO dead_letters (event_id, event, retry_count, error, failed_at, redriven_at)
         VALUES ($1, '{}'::jsonb, 5, 'schema: bad payload', now(), CASE WHEN $2 THEN now() END)`,
        [eventId, redriven],
      );
    }

    const window = await readSummarySample(pool, baseline.at);

    expect(window.windowMs).toBe(window.at.getTime() - baseline.at.getTime());
    expect(window.authorized).toBe(3);
    expect(window.declined).toEqual({ INSUFFICIENT_FUNDS: 2, ACCOUNT_NOT_FOUND: 1, SAME_ACCOUNT: 1 });
    expect(window.pending).toBe(4);
    expect(window.oldestPendingAgeMs).toBeGreaterThanOrEqual(42_000);
    expect(window.oldestPendingAgeMs).toBeLessThan(42_000 + window.windowMs);
    expect(window.deadLetters).toBe(2);
    expect(formatSummary(window)).toMatch(
      /^\d+\.\d payments\/s · declines 4 \(INSUFFICIENT_FUNDS 2, ACCOUNT_NOT_FOUND 1, SAME_ACCOUNT 1\) · pending 4 · lag 42 s · dead letters 2$/,
    );

    // The next window starts where this one ended: nothing is counted twice.
    const next = await readSummarySample(pool, window.at);
    expect(next).toMatchObject({ authorized: 0, declined: {}, pending: 4, deadLetters: 2 });
  });

  it("reads only the window's end of the primary key, not the whole payments table", async () => {
    const { pool } = fx;
    // After the first test's payments: the window holds only what this test adds.
    const since = new Date();
    const dayAgo = Date.now() - 86_400_000;
    const ids = Array.from({ length: 20_000 }, (_, i) => idAt(dayAgo + i));
    await pool.query(
      `INSERT INTO payments (id, idempotency_key, payer_account_id, payee_account_id, amount, currency, status, created_at)
       SELECT id, 'old-' || id, id, id, 1, 'EUR', 'AUTHORIZED', now() - interval '1 day'
       FROM unnest($1::text[]) AS id`,
      [ids],
    );
    await pool.query("ANALYZE payments");

    const { rows } = await pool.query<{ "QUERY PLAN": unknown }>(
      `EXPLAIN (FORMAT JSON) ${SUMMARY_SAMPLE_SQL}`,
      summarySampleParams(since),
    );
    const scans: string[] = [];
    const walk = (node: Record<string, unknown>) => {
      if (node["Relation Name"] === "payments")
        scans.push(`${node["Node Type"]} ${node["Index Name"] ?? ""}`);
      for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
    };
    const [explained] = (rows[0]?.["QUERY PLAN"] ?? []) as { Plan: Record<string, unknown> }[];
    walk(explained?.Plan ?? {});
    expect(scans).toEqual([expect.stringMatching(/^Index (Only )?Scan payments_pkey$/)]);
    expect((await readSummarySample(pool, since)).authorized).toBe(0);
  });
});
