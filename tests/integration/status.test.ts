/**
 * npm run status's two readers against a real database and broker, with a
 * known mix of pending, retrying, published and dead-lettered events.
 */
import { describe, expect, it } from "vitest";
import { formatStatus } from "../../lib/ops/format-status.ts";
import { kafkaStatus } from "../../lib/ops/kafka-status.ts";
import { outboxStatus } from "../../lib/ops/outbox-status.ts";
import { createTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { insertOutboxEvents, outboxTestContext } from "../support/outbox.ts";

const ctx = outboxTestContext();

describe("npm run status", () => {
  it("reports pending by age, retrying with the last error, recent publishing and dead letters not redriven", async () => {
    const { pool } = ctx.fx;
    const now = new Date("2026-06-01T12:00:00.000Z");
    const ids = await insertOutboxEvents(
      pool,
      ["a1", "a2", "a3", "a4", "a5", "a6", "a7"].map((aggregateId) => ({ aggregateId })),
    );
    const [fresh, older, retrying, publishedRecently, publishedEarlier, dead, redriven] = ids as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const at = (msBefore: number) => new Date(now.getTime() - msBefore);
    await pool.query("UPDATE outbox SET created_at = $2 WHERE id = $1", [fresh, at(500)]);
    await pool.query("UPDATE outbox SET created_at = $2 WHERE id = $1", [older, at(125_000)]);
    await pool.query(
      "UPDATE outbox SET created_at = $2, attempts = 2, next_attempt_at = $3, last_error = 'MESSAGE_TOO_LARGE: too big' WHERE id = $1",
      [retrying, at(30_000), new Date(now.getTime() + 4000)],
    );
    await pool.query("UPDATE outbox SET created_at = $2, published_at = $3 WHERE id = $1", [
      publishedRecently,
      at(40_000),
      at(20_000),
    ]);
    await pool.query("UPDATE outbox SET created_at = $2, published_at = $3 WHERE id = $1", [
      publishedEarlier,
      at(900_000),
      at(600_000),
    ]);
    for (const id of [dead, redriven]) {
      await pool.query("UPDATE outbox SET dead_lettered_at = $2, attempts = 5 WHERE id = $1", [
        id,
        at(60_000),
      ]);
      await pool.query(
        `INSERT INTO dead_letters (event_id, event, retry_count, error, failed_at, redriven_at)
         VALUES ($1, jsonb_build_object('event_type', 'PaymentAuthorized'), 5, 'schema: bad payload', $2, $3)`,
        [id, at(60_000), id === redriven ? at(1000) : null],
      );
    }

    const status = await outboxStatus(pool, { now });

    expect(status.pending.total).toBe(3);
    expect(status.pending.oldestAgeMs).toBe(125_000);
    expect(Object.fromEntries(status.pending.byAge.map((b) => [b.label, b.count]))).toEqual({
      "< 1 s": 1,
      "1–10 s": 0,
      "10–60 s": 1,
      "1–10 min": 1,
      "≥ 10 min": 0,
    });
    expect(status.retrying.total).toBe(1);
    expect(status.retrying.events).toEqual([
      {
        eventId: retrying,
        eventType: "PaymentAuthorized",
        aggregateId: "a3",
        attempts: 2,
        nextAttemptAt: "2026-06-01T12:00:04.000Z",
        lastError: "MESSAGE_TOO_LARGE: too big",
      },
    ]);
    expect(status.published).toEqual({ lastMinute: 1, lastHour: 2 });
    expect(status.deadLetters.notRedriven).toBe(1);
    expect(status.deadLetters.events.map((d) => [d.eventId, d.eventType, d.publishedToDlq])).toEqual([
      [dead, "PaymentAuthorized", false],
    ]);

    const text = formatStatus({ outbox: status, kafkaError: "no broker" });
    expect(text).toContain("outbox pending: 3 (oldest 2 min 5 s)");
    expect(text).toContain(dead);
    expect(text).not.toContain(redriven);
    expect(text).toContain("npm run redrive -- --event-id");
  });

  it("reports each topic's end offset and the consumer group's lag, and topics not created yet", async () => {
    const prefix = uniqueTopicPrefix();
    const [authorized, declined, dlq] = [
      `${prefix}.paymentauthorized`,
      `${prefix}.paymentdeclined`,
      `${prefix}.dlq`,
    ];
    await createTopics(ctx.kafka, [authorized, dlq], { partitions: 2 });
    const producer = ctx.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: authorized,
      messages: [
        { key: "a", value: "1", partition: 0 },
        { key: "b", value: "2", partition: 0 },
        { key: "c", value: "3", partition: 1 },
      ],
    });
    await producer.send({ topic: dlq, messages: [{ key: "d", value: "4", partition: 1 }] });
    await producer.disconnect();
    const groupId = `status-${prefix}`;
    const admin = ctx.kafka.admin();
    await admin.connect();
    // The group has processed the first message of partition 0 only.
    await admin.setOffsets({ groupId, topic: authorized, partitions: [{ partition: 0, offset: "1" }] });
    await admin.disconnect();

    const status = await kafkaStatus(ctx.kafka, [authorized, declined, dlq], groupId);

    expect(status.topics.map((t) => [t.topic, t.exists, t.endOffset, t.groupLag])).toEqual([
      [authorized, true, 3, 2],
      [declined, false, 0, 0],
      [dlq, true, 1, 1],
    ]);
    expect(status.topics[0]?.partitions).toEqual([
      { partition: 0, endOffset: 2, committed: 1, lag: 1 },
      { partition: 1, endOffset: 1, committed: null, lag: 1 },
    ]);
    expect(status.totalLag).toBe(3);
  });
});
