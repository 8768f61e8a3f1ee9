import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../lib/ids.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import type { DrainSummary } from "../../lib/outbox/drain.ts";
import { startLocalBroker } from "../../tools/local-services/kafka/local-broker.ts";
import { type KafkaClientEnv, provideKafka } from "../../tools/local-services/kafka.ts";
import { createTopics, readTopics, testKafka, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";
import {
  deadLetterService,
  drainSettings,
  InProcessDeadLetters,
  insertOutboxEvents,
  outboxRows,
  type TestDrain,
  testDrain,
} from "../support/outbox.ts";

interface OutageBroker {
  env: KafkaClientEnv;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

// Short client timeouts: a down broker is given up on in about a second, not kafkajs' default ~30 s.
const FAST_FAILING_KAFKA = {
  KAFKA_CONNECTION_TIMEOUT_MS: "500",
  KAFKA_REQUEST_TIMEOUT_MS: "2000",
  KAFKA_RETRIES: "1",
  KAFKA_RETRY_INITIAL_MS: "100",
  KAFKA_RETRY_MAX_MS: "300",
};

let broker: OutageBroker;
let fx: LedgerFixture;
let kafka: Kafka;
const closers: (() => Promise<unknown>)[] = [];

/**
 * This file stops and restarts its broker, so it owns one: never the run's
 * shared broker. pause()/resume() need a broker process started here; when
 * provideKafka() hands out something else (KAFKA_BROKERS, Docker), a local
 * JVM broker is started for this file instead.
 */
async function outageBroker(): Promise<OutageBroker> {
  const log = (line: string) => console.error(`[outage test] ${line}`);
  const provided = await provideKafka({ log });
  if (provided.source === "local") return provided;
  await provided.stop();
  return startLocalBroker(log);
}

beforeAll(async () => {
  [broker, fx] = await Promise.all([outageBroker(), ledgerFixture()]);
  kafka = testKafka(broker.env);
}, 240_000);
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await fx?.close();
  await broker?.stop();
}, 60_000);

describe("broker outage", () => {
  it("burns no attempts, dead-letters nothing, and delivers everything once the broker is back", async () => {
    const prefix = uniqueTopicPrefix();
    const topics = [topicFor(prefix, "PaymentAuthorized"), topicFor(prefix, "PaymentDeclined")];
    await createTopics(kafka, [...topics, `${prefix}.dlq`]);
    const dlq = deadLetterService(fx.pool, broker.env, `${prefix}.dlq`);
    const deadLetters = new InProcessDeadLetters(dlq.service);
    const drains: TestDrain[] = [0, 1].map((i) =>
      testDrain({
        pool: fx.pool,
        kafka: broker.env,
        name: `drain-${i}`,
        settings: drainSettings(prefix, { batchSize: 100 }),
        deadLetters,
        kafkaEnv: FAST_FAILING_KAFKA,
      }),
    );
    closers.push(() => dlq.publisher.close(), ...drains.map((d) => () => d.publisher.close()));
    const [first, second] = drains as [TestDrain, TestDrain];

    // Before the outage: delivered normally, and the producers are connected.
    await insertOutboxEvents(
      fx.pool,
      Array.from({ length: 150 }, () => ({ aggregateId: newId() })),
    );
    expect((await first.drain.run()).published).toBe(150);

    await broker.pause();

    // Payments keep committing while Kafka is down; their events wait in the outbox.
    const alice = await fx.openFundedAccount(10_000n, "EUR", "alice");
    const bob = await fx.openFundedAccount(0n, "EUR", "bob");
    for (let i = 0; i < 20; i += 1) {
      await fx.service.authorizePayment({
        idempotencyKey: uniqueKey("outage"),
        payerAccountId: alice.accountId,
        payeeAccountId: bob.accountId,
        amountCents: 5n,
        currency: "EUR",
        description: "during the outage",
      });
    }
    await insertOutboxEvents(
      fx.pool,
      Array.from({ length: 250 }, () => ({ aggregateId: newId() })),
    );
    const pendingBefore = (await outboxRows(fx.pool)).filter((r) => r.published_at === null);
    expect(pendingBefore.length).toBe(20 + 1 + 250);

    // Scheduled runs during the outage, two of them at once: each gives up early.
    const during: DrainSummary[] = [];
    for (let round = 0; round < 3; round += 1) {
      during.push(...(await Promise.all(drains.map((d) => d.drain.run()))));
    }
    for (const summary of during) {
      expect(summary).toMatchObject({
        published: 0,
        retried: 0,
        deadLettered: 0,
        stoppedBy: "broker-unavailable",
      });
      // Whatever it claimed it gave back untouched; each loop stopped at its first failed send.
      expect(summary.released).toBe(summary.claimed);
      expect(summary.batches).toBeLessThanOrEqual(2);
      expect(summary.lagMs).toBeGreaterThan(0);
    }
    expect(during.reduce((n, s) => n + s.claimed, 0)).toBeGreaterThan(0);
    const duringRows = (await outboxRows(fx.pool)).filter((r) => r.published_at === null);
    expect(duringRows.map((r) => r.id)).toEqual(pendingBefore.map((r) => r.id));
    for (const row of duringRows) {
      expect(row).toMatchObject({ attempts: 0, claimed_by: null, dead_lettered_at: null, last_error: null });
    }
    expect(deadLetters.handedOver).toEqual([]);
    expect((await fx.pool.query("SELECT count(*)::int AS n FROM dead_letters")).rows[0].n).toBe(0);

    await broker.resume();

    // The next scheduled run delivers the backlog by itself.
    const after = await second.drain.run();
    expect(after).toMatchObject({
      published: pendingBefore.length,
      retried: 0,
      deadLettered: 0,
      stoppedBy: "drained",
      lagMs: 0,
    });
    const rows = await outboxRows(fx.pool);
    expect(rows.every((r) => r.published_at !== null && r.attempts === 0)).toBe(true);
    const messages = await readTopics(kafka, topics);
    expect(messages.map((m) => m.headers.event_id).sort()).toEqual(rows.map((r) => r.id).sort());
  }, 180_000);
});
