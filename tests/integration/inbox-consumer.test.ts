import type { Consumer } from "kafkajs";
import { describe, expect, it } from "vitest";
import { createEventTotalsTable, eventTotalsEffect } from "../../lib/consumer/event-totals.ts";
import { InboxProcessor, type ProcessResult, subscribedTopics } from "../../lib/consumer/inbox.ts";
import { startInboxConsumer } from "../../lib/consumer/run.ts";
import {
  type DeadLetter,
  EVENT_TYPES,
  type EventType,
  type LedgerEvent,
  type PaymentDeclined,
} from "../../lib/events/contract.ts";
import { newId } from "../../lib/ids.ts";
import { deadLetterMessage, eventMessage, topicFor } from "../../lib/kafka/messages.ts";
import type { OutgoingMessage } from "../../lib/kafka/publisher.ts";
import { traceparentOrNew } from "../../lib/observability/trace-context.ts";
import { createTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import {
  authorizedEvent,
  outboxTestContext,
  payloadOf,
  testPublisher,
  validators,
} from "../support/outbox.ts";

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
  it("processes each event id exactly once, however often Kafka delivers it, and keeps what breaks the contract", async () => {
    const prefix = uniqueTopicPrefix();
    const authorized = topicFor(prefix, "PaymentAuthorized");
    const dlq = `${prefix}.dlq`;
    // One partition: the duplicate arrives after the original, as a redelivery would.
    await createTopics(ctx.kafka, [authorized, dlq], { partitions: 1 });

    const [a, b, c] = [300, 200, 100].map((amount) => authorizedEvent({ amount_cents: amount })) as [
      ReturnType<typeof authorizedEvent>,
      ReturnType<typeof authorizedEvent>,
      ReturnType<typeof authorizedEvent>,
    ];
    const dead = authorizedEvent({ currency: "EUR" });
    const deadLetter: DeadLetter = {
      ...dead,
      payload: { ...dead.payload },
      retry_count: 5,
      failed_at: new Date().toISOString(),
      error: "INVALID_RECORD: rejected",
    };
    const declined: PaymentDeclined = {
      ...a,
      event_id: newId(),
      event_type: "PaymentDeclined",
      payload: {
        payer_account_id: a.payload.payer_account_id,
        payee_account_id: a.payload.payee_account_id,
        amount_cents: 5,
        currency: "EUR",
        error_code: "SAME_ACCOUNT",
        error_message: "payer and payee are the same account",
      },
    };
    // What releases before the contract sent: every one of these breaks it.
    const oldShape = {
      ...authorizedEvent(),
      aggregate_type: "payment",
      schema: "payment_authorized",
      version: 1,
    };
    const oldDeadLetter = {
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
      {
        topic: authorized,
        key: oldShape.aggregate_id,
        value: JSON.stringify(oldShape),
        headers: { event_id: oldShape.event_id },
      },
      // Valid, but not this topic's event type.
      { ...eventMessage(prefix, declined, trace), topic: authorized },
      eventMessage(prefix, c, trace),
      deadLetterMessage(dlq, deadLetter, trace),
      { topic: dlq, key: oldDeadLetter.event_id, value: JSON.stringify(oldDeadLetter), headers: {} },
    ];
    const publisher = testPublisher(ctx.kafkaEnv);
    ctx.closers.push(() => publisher.close());
    await publisher.publish(messages);

    const consumerName = `sample-${newId()}`;
    // The demo table is the consumer's own, not the migrations': run twice, as two consumers starting would.
    await createEventTotalsTable(ctx.fx.pool);
    await createEventTotalsTable(ctx.fx.pool);
    const processor = new InboxProcessor({
      pool: ctx.fx.pool,
      consumer: consumerName,
      validators,
      topics: { prefix, dlq },
      effect: eventTotalsEffect(consumerName),
    });
    const results = await consume(processor, consumerName, [authorized, dlq], messages.length);

    const byStatus = (status: string) =>
      results.flatMap((r) => (r.status === status && "event" in r ? [r.event.eventId] : []));
    expect(byStatus("processed").sort()).toEqual(
      [a.event_id, b.event_id, c.event_id, deadLetter.event_id].sort(),
    );
    expect(byStatus("duplicate")).toEqual([a.event_id]);
    // Each rejected message is kept, as it arrived, with why: nothing is just skipped.
    const rejected = results.flatMap((r) => (r.status === "rejected" ? [r] : []));
    expect(rejected.map((r) => r.recorded)).toEqual([true, true, true, true]);
    const kept = async () =>
      (
        await ctx.fx.pool.query(
          `SELECT topic, kafka_offset::int AS "offset", event_id, convert_from(message_value, 'UTF8') AS value, reason
           FROM consumer_dead_letters WHERE consumer = $1 ORDER BY topic = $2, kafka_offset`,
          [consumerName, dlq],
        )
      ).rows;
    expect(await kept()).toEqual([
      { topic: authorized, offset: 3, event_id: null, value: "{not json", reason: "value is not JSON" },
      {
        topic: authorized,
        offset: 4,
        event_id: oldShape.event_id,
        value: JSON.stringify(oldShape),
        reason: expect.stringMatching(
          /^not a valid event: (?=.*\/aggregate_type must match)(?=.*additional properties: schema)/,
        ),
      },
      {
        topic: authorized,
        offset: 5,
        event_id: declined.event_id,
        value: JSON.stringify(declined),
        reason: `a PaymentDeclined belongs on ${topicFor(prefix, "PaymentDeclined")}`,
      },
      {
        topic: dlq,
        offset: 1,
        event_id: null,
        value: JSON.stringify(oldDeadLetter),
        reason: expect.stringMatching(/^not a valid dead letter: .*aggregate_type/),
      },
    ]);
    expect(rejected.map((r) => r.reason).sort()).toEqual((await kept()).map((row) => row.reason).sort());

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
    // as after lost offsets): every event is a duplicate, the totals do not move,
    // and the rejected messages are already kept.
    const replay = await consume(processor, `${consumerName}-replay`, [authorized, dlq], messages.length);
    expect(replay.filter((r) => r.status === "processed")).toEqual([]);
    expect(replay.filter((r) => r.status === "duplicate")).toHaveLength(5);
    expect(replay.flatMap((r) => (r.status === "rejected" ? [r.recorded] : []))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(await totals()).toEqual(expected);
    expect(await kept()).toHaveLength(4);
    const inbox = await ctx.fx.pool.query("SELECT count(*)::int AS n FROM inbox WHERE consumer = $1", [
      consumerName,
    ]);
    expect(inbox.rows[0].n).toBe(4);
  });

  it("reads every event type of a payment's lifecycle from the topic each has, once each, and totals them", async () => {
    const prefix = uniqueTopicPrefix();
    const dlq = `${prefix}.dlq`;
    const topics = subscribedTopics({ prefix, dlq });
    await createTopics(ctx.kafka, topics, { partitions: 1 });
    const paymentId = newId();
    const event = (eventType: EventType): LedgerEvent =>
      ({
        event_id: newId(),
        aggregate_type: "Payment",
        aggregate_id: paymentId,
        event_type: eventType,
        payload: payloadOf(eventType, paymentId),
        timestamp: new Date().toISOString(),
      }) as unknown as LedgerEvent;
    const events = EVENT_TYPES.map(event);
    const trace = traceparentOrNew(undefined);
    const publisher = testPublisher(ctx.kafkaEnv);
    ctx.closers.push(() => publisher.close());
    await publisher.publish(events.map((e) => eventMessage(prefix, e, trace)));

    const consumerName = `lifecycle-${newId()}`;
    await createEventTotalsTable(ctx.fx.pool);
    const processor = new InboxProcessor({
      pool: ctx.fx.pool,
      consumer: consumerName,
      validators,
      topics: { prefix, dlq },
      effect: eventTotalsEffect(consumerName),
    });
    const results = await consume(processor, consumerName, topics, events.length);
    expect(results.map((r) => r.status)).toEqual(events.map(() => "processed"));
    const { rows } = await ctx.fx.pool.query<{ event_type: string; events: bigint; amount_cents: bigint }>(
      "SELECT event_type, events, amount_cents FROM sample_event_totals WHERE consumer = $1 ORDER BY event_type",
      [consumerName],
    );
    expect(rows).toEqual(
      [...EVENT_TYPES].sort().map((type) => ({ event_type: type, events: 1n, amount_cents: 100n })),
    );
  });
});
