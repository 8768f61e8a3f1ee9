import { describe, expect, it } from "vitest";
import { retentionConfig } from "../../lib/config.ts";
import type { Pool } from "../../lib/db/pool.ts";
import { newId } from "../../lib/ids.ts";
import { RetentionJob } from "../../lib/maintenance/retention.ts";
import { RetentionRepository } from "../../lib/maintenance/retention-repository.ts";
import { ManualClock, outboxTestContext } from "../support/outbox.ts";

const ctx = outboxTestContext();
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

describe("retention (manual clock)", () => {
  it("deletes exactly what is past retention, in bounded batches, and keeps the rest", async () => {
    const { pool } = ctx.fx;
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
    const job = (env: Record<string, string>) =>
      new RetentionJob({ repository: new RetentionRepository(pool), clock, config: retentionConfig(env) });

    // One row per DELETE and one DELETE per table: a run stops with work left, and says so.
    const bounded = job({ RETENTION_BATCH_SIZE: "1", RETENTION_MAX_BATCHES: "1" });
    expect(await bounded.run()).toEqual({
      outbox: 0,
      idempotencyKeys: 1,
      inbox: 1,
      redrivenDeadLetters: 1,
      more: true,
    });

    // Windows of two rows: the walk steps over kept rows and stops after the last old one.
    const summary = await job({ RETENTION_BATCH_SIZE: "2" }).run();
    expect(summary).toEqual({ outbox: 2, idempotencyKeys: 1, inbox: 0, redrivenDeadLetters: 0, more: false });
    expect(await remaining(pool)).toEqual({
      outbox: ["created-8d-published-6d", "dead-lettered-old", "pending-new", "pending-old", "published-1d"],
      idempotencyKeys: ["alice:expires-in-1s", "bob:expired-1s"],
      inbox: ["processed-6d"],
      deadLetters: ["never-redriven", "redriven-29d"],
    });

    // A day later the clock has moved; the settings decide what goes next.
    clock.advance(DAY + 1);
    expect(
      await job({ OUTBOX_RETENTION: "5d", INBOX_RETENTION: "8d", DEAD_LETTER_RETENTION: "29d" }).run(),
    ).toEqual({
      outbox: 1,
      idempotencyKeys: 2,
      inbox: 0,
      redrivenDeadLetters: 1,
      more: false,
    });
    expect(await remaining(pool)).toEqual({
      outbox: ["dead-lettered-old", "pending-new", "pending-old", "published-1d"],
      idempotencyKeys: [],
      inbox: ["processed-6d"],
      deadLetters: ["never-redriven"],
    });
  });
});
