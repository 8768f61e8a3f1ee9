import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventType } from "../../lib/events/contract.ts";
import { newId } from "../../lib/ids.ts";
import { eventTopics, topicFor } from "../../lib/kafka/messages.ts";
import type { OutgoingMessage } from "../../lib/kafka/publisher.ts";
import type { DrainSummary } from "../../lib/outbox/drain.ts";
import {
  createTopics,
  readTopics,
  sharedKafkaEnv,
  testKafka,
  uniqueTopicPrefix,
} from "../support/kafka-topics.ts";
import { type LedgerFixture, ledgerFixture } from "../support/ledger.ts";
import {
  deadLetterService,
  drainSettings,
  InProcessDeadLetters,
  insertOutboxEvents,
  outboxRows,
  payloadOf,
  type TestDrain,
  testDrain,
} from "../support/outbox.ts";

const AGGREGATES = 100;
const EVENTS = 5_000;
const DRAINS = 3;
const WAVES = 5;

let fx: LedgerFixture;
let kafka: Kafka;
const kafkaEnv = sharedKafkaEnv();
const drains: TestDrain[] = [];
let dlqClose: (() => Promise<void>) | undefined;

beforeAll(async () => {
  fx = await ledgerFixture({ poolMax: 12 });
  kafka = testKafka(kafkaEnv);
});
afterAll(async () => {
  for (const { publisher } of drains) await publisher.close();
  await dlqClose?.();
  await fx?.close();
});

/** A random interleaving of `perAggregate` events for each aggregate. */
function shuffledEvents(aggregates: string[], perAggregate: number): { aggregateId: string }[] {
  const events = aggregates.flatMap((aggregateId) =>
    Array.from({ length: perAggregate }, () => ({ aggregateId })),
  );
  for (let i = events.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [events[i], events[j]] = [events[j] as { aggregateId: string }, events[i] as { aggregateId: string }];
  }
  return events;
}

describe("several drains at once", () => {
  it("deliver each aggregate's events in creation order, each exactly once", async () => {
    const prefix = uniqueTopicPrefix();
    const topic = topicFor(prefix, "PaymentAuthorized");
    await createTopics(kafka, [topic, `${prefix}.dlq`]);
    const dlq = deadLetterService(fx.pool, kafkaEnv, `${prefix}.dlq`);
    dlqClose = () => dlq.publisher.close();
    for (let i = 0; i < DRAINS; i += 1) {
      drains.push(
        testDrain({
          pool: fx.pool,
          kafka: kafkaEnv,
          name: `drain-${i}`,
          // Batches smaller than the number of aggregates, so the drains share
          // aggregates: successive events of one aggregate leave through different drains.
          settings: drainSettings(prefix, { batchSize: 40 }),
          deadLetters: new InProcessDeadLetters(dlq.service),
        }),
      );
    }

    const aggregates = Array.from({ length: AGGREGATES }, () => newId());
    const events = shuffledEvents(aggregates, EVENTS / AGGREGATES);
    const waveSize = EVENTS / WAVES;
    // Half the events are there from the start; the rest arrive while the drains run.
    await insertOutboxEvents(fx.pool, events.slice(0, waveSize * 2));
    let inserting = true;
    const producer = (async () => {
      for (let wave = 2; wave < WAVES; wave += 1) {
        await insertOutboxEvents(fx.pool, events.slice(wave * waveSize, (wave + 1) * waveSize));
      }
      inserting = false;
    })();

    const summaries: DrainSummary[][] = drains.map(() => []);
    await Promise.all(
      drains.map(async ({ drain }, i) => {
        for (;;) {
          const wasInserting = inserting;
          const summary = await drain.run();
          summaries[i]?.push(summary);
          if (!wasInserting && summary.claimed === 0) return;
        }
      }),
    );
    await producer;

    const all = summaries.flat();
    expect(all.every((s) => s.stoppedBy === "drained" && s.retried === 0 && s.deadLettered === 0)).toBe(true);
    expect(all.reduce((n, s) => n + s.published, 0)).toBe(EVENTS);
    // They really ran side by side (each drain also runs two batch loops of its own).
    expect(summaries.filter((list) => list.some((s) => s.published > 0)).length).toBeGreaterThanOrEqual(2);

    const rows = await outboxRows(fx.pool);
    expect(rows).toHaveLength(EVENTS);
    expect(rows.every((r) => r.published_at !== null && r.claimed_by === null && r.attempts === 0)).toBe(
      true,
    );

    const messages = await readTopics(kafka, [topic]);
    expect(messages).toHaveLength(EVENTS);
    const sentOrder = new Map<string, string[]>();
    for (const message of messages) {
      // readTopics returns each partition in offset order; one aggregate lives in one partition.
      const list = sentOrder.get(message.key) ?? [];
      list.push(message.headers.event_id as string);
      sentOrder.set(message.key, list);
    }
    const createdOrder = new Map<string, string[]>();
    for (const row of rows) {
      const list = createdOrder.get(row.aggregate_id) ?? [];
      list.push(row.id);
      createdOrder.set(row.aggregate_id, list);
    }
    expect(sentOrder.size).toBe(AGGREGATES);
    for (const aggregate of aggregates) {
      expect(sentOrder.get(aggregate)).toEqual(createdOrder.get(aggregate));
    }
  }, 180_000);
});

// What a payment's events can be, in the order the ledger writes them.
const LIFECYCLES: EventType[][] = [
  ["PaymentHeld", "PaymentCaptured", "PaymentRefunded", "PaymentRefunded", "PaymentRefundDeclined"],
  ["PaymentHeld", "PaymentVoided"],
  ["PaymentHeld", "PaymentExpired"],
  ["PaymentAuthorized", "PaymentRefunded", "PaymentRefundDeclined", "PaymentRefunded"],
  ["PaymentHeld", "PaymentCaptured"],
  ["PaymentDeclined"],
];

/** Each aggregate's lifecycle, interleaved at random with the others', each aggregate's order kept. */
function interleavedLifecycles(aggregates: string[]): { aggregateId: string; eventType: EventType }[] {
  const pending = aggregates.map((aggregateId, i) => ({
    aggregateId,
    events: [...(LIFECYCLES[i % LIFECYCLES.length] as EventType[])],
  }));
  const out: { aggregateId: string; eventType: EventType }[] = [];
  while (pending.length > 0) {
    const i = Math.floor(Math.random() * pending.length);
    const next = pending[i] as (typeof pending)[number];
    out.push({ aggregateId: next.aggregateId, eventType: next.events.shift() as EventType });
    if (next.events.length === 0) pending.splice(i, 1);
  }
  return out;
}

describe("a payment's several events, over their several topics", () => {
  it("reach Kafka in the order they were written, each exactly once, with several drains at once", async () => {
    const prefix = uniqueTopicPrefix();
    const topics = eventTopics(prefix);
    await createTopics(kafka, [...topics, `${prefix}.dlq`]);
    const dlq = deadLetterService(fx.pool, kafkaEnv, `${prefix}.dlq`);
    // Every send Kafka acknowledged, in the order it did, across the drains.
    const acknowledged: OutgoingMessage[][] = [];
    const own: TestDrain[] = [];
    for (let i = 0; i < DRAINS; i += 1) {
      own.push(
        testDrain({
          pool: fx.pool,
          kafka: kafkaEnv,
          name: `lifecycle-drain-${i}`,
          settings: drainSettings(prefix, { batchSize: 25 }),
          deadLetters: new InProcessDeadLetters(dlq.service),
          onAcknowledged: (messages) => acknowledged.push([...messages]),
        }),
      );
    }
    try {
      const aggregates = Array.from({ length: 120 }, () => newId());
      const events = interleavedLifecycles(aggregates).map(({ aggregateId, eventType }) => ({
        aggregateId,
        eventType,
        payload: payloadOf(eventType, aggregateId),
      }));
      const half = Math.floor(events.length / 2);
      await insertOutboxEvents(fx.pool, events.slice(0, half));
      let inserting = true;
      const producer = (async () => {
        for (let at = half; at < events.length; at += 40) {
          await insertOutboxEvents(fx.pool, events.slice(at, at + 40));
        }
        inserting = false;
      })();
      const summaries: DrainSummary[] = [];
      await Promise.all(
        own.map(async ({ drain }) => {
          for (;;) {
            const wasInserting = inserting;
            const summary = await drain.run();
            summaries.push(summary);
            if (!wasInserting && summary.claimed === 0) return;
          }
        }),
      );
      await producer;
      expect(summaries.every((s) => s.retried === 0 && s.deadLettered === 0)).toBe(true);
      expect(summaries.reduce((n, s) => n + s.published, 0)).toBe(events.length);

      const { rows } = await fx.pool.query<{ id: string; aggregate_id: string; event_type: string }>(
        "SELECT id, aggregate_id, event_type FROM outbox WHERE aggregate_id = ANY($1) ORDER BY seq",
        [aggregates],
      );
      const written = new Map<string, { id: string; topic: string }[]>();
      for (const row of rows) {
        const list = written.get(row.aggregate_id) ?? [];
        list.push({ id: row.id, topic: topicFor(prefix, row.event_type as EventType) });
        written.set(row.aggregate_id, list);
      }

      // Acknowledged in the order written, and never two topics of one aggregate in one send
      // (where Kafka could append the later one and refuse the earlier: the drain's waves).
      const ackedOrder = new Map<string, string[]>();
      for (const send of acknowledged) {
        const topicsOf = new Map<string, Set<string>>();
        for (const message of send) {
          const list = ackedOrder.get(message.key) ?? [];
          list.push(message.headers.event_id as string);
          ackedOrder.set(message.key, list);
          topicsOf.set(message.key, (topicsOf.get(message.key) ?? new Set()).add(message.topic));
        }
        for (const [aggregate, used] of topicsOf) expect(used.size, aggregate).toBe(1);
      }
      // On the broker: each event once, and per aggregate and topic in the order written.
      const messages = await readTopics(kafka, topics);
      expect(messages).toHaveLength(events.length);
      const onTopic = new Map<string, string[]>();
      for (const message of messages) {
        const key = `${message.key} ${message.topic}`;
        onTopic.set(key, [...(onTopic.get(key) ?? []), message.headers.event_id as string]);
      }
      for (const aggregate of aggregates) {
        const expected = written.get(aggregate) ?? [];
        expect(ackedOrder.get(aggregate), aggregate).toEqual(expected.map((e) => e.id));
        for (const topic of new Set(expected.map((e) => e.topic))) {
          expect(onTopic.get(`${aggregate} ${topic}`)).toEqual(
            expected.filter((e) => e.topic === topic).map((e) => e.id),
          );
        }
      }
    } finally {
      for (const { publisher } of own) await publisher.close();
      await dlq.publisher.close();
    }
  }, 180_000);
});
