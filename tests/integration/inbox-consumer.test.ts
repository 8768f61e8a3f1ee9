import type { Consumer } from "kafkajs";
import { describe, expect, it } from "vitest";
import { createEventTotalsTable, eventTotalsEffect } from "../../lib/consumer/event-totals.ts";
import { InboxProcessor, type ProcessResult } from "../../lib/consumer/inbox.ts";
import { startInboxConsumer } from "../../lib/consumer/run.ts";
import { toEnvelope } from "../../lib/events/envelope.ts";
import { PAYMENT_AGGREGATE_TYPE, PaymentEventType } from "../../lib/events/types.ts";
import { newId } from "../../lib/ids.ts";
import { deadLetterMessage, eventMessage, topicFor } from "../../lib/kafka/messages.ts";
import type { OutgoingMessage } from "../../lib/kafka/publisher.ts";
import { traceparentOrNew } from "../../lib/observability/trace-context.ts";
import { createTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { authorizedPayload, outboxTestContext, testPublisher, validators } from "../support/outbox.ts";

const ctx = outboxTestContext();

/** Runs the sample consumer under `groupId` until it has handled `count` messages, then stops it. */
async function consume(
  processor: InboxProcessor,
  groupId: string,
  topics: string[],
  count: number,
): Promise<ProcessResult[]> {
  const results: ProcessResult[] = [];
  let consumer: Consumer | undefined;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`handled ${results.length}/${count} messages`)), 60_000);
    startInboxConsumer({
      kafka: ctx.kafka,
      groupId,
      topics,
      processor,
      fromBeginning: true,
      onResult: (result) => {
        results.push(result);
        if (results.length === count) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).then((c) => {
      consumer = c;
    }, reject);
  });
  await consumer?.disconnect();
  return results;
}

describe("sample consumer", () => {
  it("processes each event id exactly once, however often Kafka delivers it", async () => {
    const prefix = uniqueTopicPrefix();
    const authorized = topicFor(prefix, PaymentEventType.Authorized);
    const dlq = `${prefix}.dlq`;
    // One partition: the duplicate arrives after the original, as a redelivery would.
    await createTopics(ctx.kafka, [authorized, dlq], { partitions: 1 });

    const envelopes = [300, 200, 100].map((amount) => {
      const aggregate = newId();
      return toEnvelope({
        id: newId(),
        aggregateType: PAYMENT_AGGREGATE_TYPE,
        aggregateId: aggregate,
        eventType: PaymentEventType.Authorized,
        payload: { ...authorizedPayload(aggregate), amount_cents: amount },
        createdAt: new Date().toISOString(),
      });
    });
    const [a, b, c] = envelopes as [(typeof envelopes)[0], (typeof envelopes)[0], (typeof envelopes)[0]];
    const deadLetter = {
      event_id: newId(),
      event: { event_type: "PaymentAuthorized", payload: { currency: "EUR" } },
      retry_count: 5,
      failed_at: new Date().toISOString(),
      error: "INVALID_RECORD: rejected",
    };
    const trace = traceparentOrNew(undefined);
    const messages: OutgoingMessage[] = [
      eventMessage(prefix, a, trace),
      eventMessage(prefix, b, trace),
      // At-least-once: the drain re-sent `a` (say, it died before marking it published).
      eventMessage(prefix, a, trace),
      { topic: authorized, key: "junk", value: "{not json", headers: {} },
      eventMessage(prefix, c, trace),
      deadLetterMessage(dlq, deadLetter, trace),
    ];
    const publisher = testPublisher(ctx.kafkaEnv);
    ctx.closers.push(() => publisher.close());
    await publisher.publish(messages);

    const consumerName = `sample-${newId()}`;
    // The demo table is the consumer's own, not the migrations': run twice, as two consumers starting would.
    await createEventTotalsTable(ctx.fx.pool);
    await createEventTotalsTable(ctx.fx.pool);
    const processor = new InboxProcessor(
      ctx.fx.pool,
      consumerName,
      validators,
      dlq,
      eventTotalsEffect(consumerName),
    );
    const results = await consume(processor, consumerName, [authorized, dlq], messages.length);

    const byStatus = (status: string) =>
      results.flatMap((r) => (r.status === status && "event" in r ? [r.event.eventId] : []));
    expect(byStatus("processed").sort()).toEqual(
      [a.event_id, b.event_id, c.event_id, deadLetter.event_id].sort(),
    );
    expect(byStatus("duplicate")).toEqual([a.event_id]);
    expect(results.filter((r) => r.status === "invalid")).toEqual([
      { status: "invalid", reason: "value is not JSON" },
    ]);

    const totals = async () =>
      (
        await ctx.fx.pool.query(
          "SELECT event_type, currency, events, amount_cents FROM sample_event_totals WHERE consumer = $1 ORDER BY event_type",
          [consumerName],
        )
      ).rows;
    const expected = [
      { event_type: "DeadLetter", currency: "EUR", events: 1n, amount_cents: 0n },
      { event_type: "PaymentAuthorized", currency: "EUR", events: 3n, amount_cents: 600n },
    ];
    expect(await totals()).toEqual(expected);

    // The whole history delivered again (a new group starting from the beginning,
    // as after lost offsets): every event is a duplicate, the totals do not move.
    const replay = await consume(processor, `${consumerName}-replay`, [authorized, dlq], messages.length);
    expect(replay.filter((r) => r.status === "processed")).toEqual([]);
    expect(replay.filter((r) => r.status === "duplicate")).toHaveLength(5);
    expect(await totals()).toEqual(expected);
    const inbox = await ctx.fx.pool.query("SELECT count(*)::int AS n FROM inbox WHERE consumer = $1", [
      consumerName,
    ]);
    expect(inbox.rows[0].n).toBe(4);
  });
});
