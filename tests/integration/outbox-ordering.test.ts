import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../lib/ids.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
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
