import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retentionConfig } from "../../lib/config.ts";
import type { Pool } from "../../lib/db/pool.ts";
import { newId } from "../../lib/ids.ts";
import { RetentionJob } from "../../lib/maintenance/retention.ts";
import { RetentionRepository } from "../../lib/maintenance/retention-repository.ts";
import { type LedgerFixture, ledgerFixture } from "../support/ledger.ts";
import { ManualClock } from "../support/outbox.ts";

let fx: LedgerFixture;
beforeAll(async () => {
  fx = await ledgerFixture();
});
afterAll(async () => {
  await fx?.close();
});
const NOW = new Date("2026-06-01T00:00:00.000Z");
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

async function outboxRow(
  pool: Pool,
  label: string,
  at: { created: Date; published?: Date; deadLettered?: Date },
): Promise<string> {
  await pool.query(
    `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, next_attempt_at,
                         published_at, dead_lettered_at)
     VALUES ($1, 'Payment', $2, 'PaymentAuthorized', '{}', $3, $3, $4, $5)`,
    [newId(), label, at.created, at.published ?? null, at.deadLettered ?? null],
  );
  return label;
}

async function remaining(pool: Pool) {
  const q = async (sql: string) => (await pool.query<{ label: string }>(sql)).rows.map((r) => r.label).sort();
  return {
    outbox: await q("SELECT aggregate_id AS label FROM outbox"),
    idempotencyKeys: await q("SELECT owner || ':' || key AS label FROM idempotency_keys"),
    inbox: await q("SELECT consumer AS label FROM inbox"),
    deadLetters: await q("SELECT error AS label FROM dead_letters"),
  };
}

const job = (pool: Pool, clock: ManualClock, env: Record<string, string> = {}) =>
  new RetentionJob({ repository: new RetentionRepository(pool), clock, config: retentionConfig(env) });

const noLag = { outbox: 0, idempotencyKeys: 0, inbox: 0, redrivenDeadLetters: 0 };

describe("retention (manual clock)", () => {
  it("deletes exactly what is past retention and keeps the rest", async () => {
    const { pool } = fx;
    await pool.query("TRUNCATE outbox, idempotency_keys, inbox, dead_letters");
    // Lowest seqs first: rows the walk must step over without deleting them.
    await outboxRow(pool, "pending-old", { created: ago(10) });
    await outboxRow(pool, "dead-lettered-old", { created: ago(10), deadLettered: ago(9) });
    await outboxRow(pool, "published-9d", { created: ago(10), published: ago(9) });
    await outboxRow(pool, "published-8d", { created: ago(9), published: ago(8) });
    await outboxRow(pool, "created-8d-published-6d", { created: ago(8), published: ago(6) });
    await outboxRow(pool, "published-1d", { created: ago(1), published: ago(1) });
    await outboxRow(pool, "pending-new", { created: ago(0) });

    const key = (label: string, expires: Date, owner = "alice") =>
      pool.query(
        "INSERT INTO idempotency_keys (owner, key, request_hash, payment_id, created_at, expires_at) VALUES ($5, $1, 'h', $2, $3, $4)",
        [label, newId(), ago(2), expires, owner],
      );
    await key("expired-1s", new Date(NOW.getTime() - 1000));
    await key("expires-now", NOW);
    await key("expires-in-1s", new Date(NOW.getTime() + 1000));
    // Keys are per owner: bob's live key of the same text as alice's expired one stays.
    await key("expired-1s", new Date(NOW.getTime() + 60_000), "bob");

    const inbox = (label: string, processed: Date) =>
      pool.query(
        "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset, processed_at) VALUES ($1, $2, 't', 0, 0, $3)",
        [label, newId(), processed],
      );
    await inbox("processed-8d", ago(8));
    await inbox("processed-6d", ago(6));

    const deadLetter = (label: string, redriven: Date | null) =>
      pool.query(
        "INSERT INTO dead_letters (event_id, event, retry_count, error, failed_at, redriven_at) VALUES ($1, '{}', 1, $2, $3, $4)",
        [newId(), label, ago(100), redriven],
      );
    await deadLetter("never-redriven", null);
    await deadLetter("redriven-31d", ago(31));
    await deadLetter("redriven-29d", ago(29));

    const clock = new ManualClock(NOW);
    // Windows of two rows: the walk steps over kept rows and stops after the last old one.
    const summary = await job(pool, clock, { RETENTION_BATCH_SIZE: "2" }).run();
    expect(summary).toMatchObject({
      deleted: { outbox: 2, idempotencyKeys: 2, inbox: 1, redrivenDeadLetters: 1 },
      stoppedBy: "caught-up",
      lagMs: noLag,
    });
    expect(await remaining(pool)).toEqual({
      outbox: ["created-8d-published-6d", "dead-lettered-old", "pending-new", "pending-old", "published-1d"],
      idempotencyKeys: ["alice:expires-in-1s", "bob:expired-1s"],
      inbox: ["processed-6d"],
      deadLetters: ["never-redriven", "redriven-29d"],
    });

    // A day later the clock has moved; the settings decide what goes next.
    clock.advance(DAY + 1);
    expect(
      await job(pool, clock, {
        OUTBOX_RETENTION: "5d",
        INBOX_RETENTION: "8d",
        DEAD_LETTER_RETENTION: "29d",
      }).run(),
    ).toMatchObject({
      deleted: { outbox: 1, idempotencyKeys: 2, inbox: 0, redrivenDeadLetters: 1 },
      stoppedBy: "caught-up",
      lagMs: noLag,
    });
    expect(await remaining(pool)).toEqual({
      outbox: ["dead-lettered-old", "pending-new", "pending-old", "published-1d"],
      idempotencyKeys: [],
      inbox: ["processed-6d"],
      deadLetters: ["never-redriven"],
    });
  });

  it("stops when its time is spent, says how far behind it is, and the next run carries on", async () => {
    const { pool } = fx;
    await pool.query("TRUNCATE outbox, idempotency_keys, inbox, dead_letters");
    // Five rows of each table past retention, the oldest 10 days past it.
    for (let i = 0; i < 5; i += 1) {
      const due = ago(17 - i); // 7d windows: 10..6 days past the outbox's and inbox's cutoff
      await outboxRow(pool, `o${i}`, { created: due, published: due });
      await pool.query(
        "INSERT INTO idempotency_keys (owner, key, request_hash, payment_id, created_at, expires_at) VALUES ('alice', $1, 'h', $2, $3, $4)",
        [`k${i}`, newId(), ago(20), ago(10 - i)],
      );
      await pool.query(
        "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset, processed_at) VALUES ('c', $1, 't', 0, $2, $3)",
        [newId(), i, due],
      );
    }
    const clock = new ManualClock(NOW);
    // A budget that runs out after five statements: the time margin (10 s by default) is not left.
    let checks = 0;
    const remainingMs = () => (checks++ < 5 ? 60_000 : 9_999);
    const cut = await job(pool, clock, { RETENTION_BATCH_SIZE: "2" }).run({ remainingMs });
    // One batch per table in turn: outbox, keys, inbox, dead letters (nothing due), then outbox again.
    expect(cut.stoppedBy).toBe("time");
    expect(cut.deleted).toEqual({ outbox: 4, idempotencyKeys: 2, inbox: 2, redrivenDeadLetters: 0 });
    // What is left is the youngest due rows: 6 days (outbox, its oldest left), 8 days (keys), 8 days (inbox).
    expect(cut.lagMs).toEqual({
      outbox: 6 * DAY,
      idempotencyKeys: 8 * DAY,
      inbox: 8 * DAY,
      redrivenDeadLetters: 0,
    });

    const next = await job(pool, clock).run({ remainingMs: () => 60_000 });
    expect(next).toMatchObject({
      stoppedBy: "caught-up",
      deleted: { outbox: 1, idempotencyKeys: 3, inbox: 3, redrivenDeadLetters: 0 },
      lagMs: noLag,
    });
  });

  it("at 500 payments/s, well above the old hourly cap of 278/s, the tables stop growing", async () => {
    const { pool } = fx;
    await pool.query("TRUNCATE outbox, idempotency_keys, inbox, dead_letters");
    // Production settings (5,000-row batches), two-minute windows so a steady state comes
    // within minutes, and the production schedule: a run at the end of every minute.
    const RATE = 500;
    const WINDOW_S = 120;
    const MINUTES = 8;
    const env = { OUTBOX_RETENTION: `${WINDOW_S}s`, INBOX_RETENTION: `${WINDOW_S}s` };
    const start = new Date("2026-06-01T00:00:00.000Z");
    const clock = new ManualClock(start);
    const counts: { outbox: number; idempotencyKeys: number; inbox: number }[] = [];
    for (let minute = 0; minute < MINUTES; minute += 1) {
      await oneMinuteOfPayments(pool, clock.now(), minute, RATE, WINDOW_S);
      clock.advance(60_000);
      const summary = await job(pool, clock, env).run({ remainingMs: () => 50_000 });
      expect(summary.stoppedBy).toBe("caught-up");
      expect(summary.lagMs).toEqual(noLag);
      const { rows } = await pool.query<{ outbox: number; keys: number; inbox: number }>(
        `SELECT (SELECT count(*) FROM outbox)::int AS outbox, (SELECT count(*) FROM idempotency_keys)::int AS keys,
                (SELECT count(*) FROM inbox)::int AS inbox`,
      );
      const row = rows[0] as { outbox: number; keys: number; inbox: number };
      counts.push({ outbox: row.outbox, idempotencyKeys: row.keys, inbox: row.inbox });
    }
    // Once the first window has passed, every run deletes a minute's worth: the tables hold
    // one window of rows (plus the second an event waits to be published), minute after minute.
    const steady = counts.slice(Math.ceil(WINDOW_S / 60));
    for (const table of ["outbox", "idempotencyKeys", "inbox"] as const) {
      const sizes = steady.map((c) => c[table]);
      expect(Math.max(...sizes) - Math.min(...sizes), `${table}: ${sizes.join(", ")}`).toBe(0);
      // One window (a key that expires exactly now is gone; inbox rows came 2 s after their commit).
      expect(sizes[0], table).toBeGreaterThanOrEqual(RATE * WINDOW_S - 1);
      expect(sizes[0], table).toBeLessThanOrEqual(RATE * (WINDOW_S + 2));
    }
    // Inserted: MINUTES minutes of rows; kept: one window. The rest went.
    expect(counts.at(-1)?.outbox).toBeLessThan((RATE * 60 * MINUTES) / 3);
  });
});

/**
 * A minute of payments at `rate`/s from `from`, as the tables see them: an
 * outbox event published a second after its commit, an idempotency key that
 * expires after `ttlS`, and the sample consumer's inbox row a second after publishing.
 */
async function oneMinuteOfPayments(pool: Pool, from: Date, minute: number, rate: number, ttlS: number) {
  const n = rate * 60;
  const params = [from, n, minute * n, 1000 / rate];
  // Valid ULID text from a counter: hex digits are in Crockford's alphabet.
  const id = "lpad(upper(to_hex($3::bigint + g)), 26, '0')";
  const at = "($1::timestamptz + (g * $4::float8) * interval '1 millisecond')";
  await pool.query(
    `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, next_attempt_at, published_at)
     SELECT ${id}, 'payment', ${id}, 'PaymentAuthorized', '{}', ${at}, ${at}, ${at} + interval '1 second'
     FROM generate_series(0, $2::int - 1) g`,
    params,
  );
  await pool.query(
    `INSERT INTO idempotency_keys (owner, key, request_hash, payment_id, created_at, expires_at)
     SELECT 'owner' || (g % 100), ${id}, 'h', ${id}, ${at}, ${at} + $5::int * interval '1 second'
     FROM generate_series(0, $2::int - 1) g`,
    [...params, ttlS],
  );
  await pool.query(
    `INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset, processed_at)
     SELECT 'sample', ${id}, 'payments.paymentauthorized', 0, $3::bigint + g, ${at} + interval '2 seconds'
     FROM generate_series(0, $2::int - 1) g`,
    params,
  );
}
