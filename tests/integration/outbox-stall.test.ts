import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { topicFor } from "../../lib/kafka/messages.ts";
import { BoundedDrain } from "../../lib/outbox/bounded-drain.ts";
import type { DrainSummary, RunOptions } from "../../lib/outbox/drain.ts";
import { DrainSlots } from "../../lib/outbox/drain-slots.ts";
import { DrainStateRepository } from "../../lib/outbox/drain-state.ts";
import { OutboxNudge } from "../../lib/outbox/nudge.ts";
import type { Account } from "../../lib/payments/model.ts";
import { type LocalBroker, startLocalBroker } from "../../tools/local-services/kafka/local-broker.ts";
import { createTopics, readTopics, testKafka, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";
import { drainSettings, outboxRows, testDrain } from "../support/outbox.ts";

// A stalled broker is noticed after one request timeout and one retry, not kafkajs' ~30 s.
const FAST_FAILING_KAFKA = {
  KAFKA_CONNECTION_TIMEOUT_MS: "500",
  KAFKA_REQUEST_TIMEOUT_MS: "1000",
  KAFKA_RETRIES: "1",
  KAFKA_RETRY_INITIAL_MS: "100",
  KAFKA_RETRY_MAX_MS: "300",
};
const MAX_DRAINS = 2;
// More "containers" than slots, as a runtime without reserved concurrency would start.
const CONTAINERS = 6;

let broker: LocalBroker;
let fx: LedgerFixture;
let kafka: Kafka;
const closers: (() => Promise<unknown>)[] = [];

// This file freezes its broker, so it owns one: never the run's shared broker.
beforeAll(async () => {
  [broker, fx] = await Promise.all([
    startLocalBroker((line) => console.error(`[stall test] ${line}`)),
    ledgerFixture({ poolMax: 30 }),
  ]);
  kafka = testKafka(broker.env);
}, 240_000);
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await fx?.close();
  await broker?.stop();
}, 60_000);

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  // Bounded by the test's own timeout; polling only decides when to look again.
  while (!(await condition())) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (failure) throw new Error(`${what}: ${failure}`);
  }
}
let failure: string | undefined;

describe("a stalled broker (SIGSTOP) under steady payment load", () => {
  it("never lets more than the bound of drains work, keeps payments committing, and delivers everything after", async () => {
    const prefix = uniqueTopicPrefix();
    const topics = [topicFor(prefix, "PaymentAuthorized"), topicFor(prefix, "PaymentDeclined")];
    await createTopics(kafka, topics);
    const slots = new DrainSlots(fx.pool, MAX_DRAINS, 30_000);
    const state = new DrainStateRepository(fx.pool);

    let working = 0;
    let maxWorking = 0;
    const summaries: DrainSummary[] = [];
    const containers = Array.from({ length: CONTAINERS }, (_, i) => {
      const { drain, publisher } = testDrain({
        pool: fx.pool,
        kafka: broker.env,
        name: `container-${i}`,
        settings: drainSettings(prefix, { batchSize: 50, concurrency: 1 }),
        deadLetters: {
          async deadLetter(envelope) {
            failure = `unexpected dead letter ${envelope.event_id}`;
          },
        },
        kafkaEnv: FAST_FAILING_KAFKA,
      });
      closers.push(() => publisher.close());
      // Counts the runs that got past the slot: the drains working right now.
      const counted = {
        async run(options?: RunOptions) {
          working += 1;
          maxWorking = Math.max(maxWorking, working);
          try {
            return await drain.run(options);
          } finally {
            working -= 1;
          }
        },
      };
      // A long pause: only a drain that gets through may lift it, never the clock.
      return new BoundedDrain({ drain: counted, slots, state, outagePauseMs: 600_000 });
    });

    const running = new Set<Promise<unknown>>();
    let next = 0;
    const startDrain = () => {
      const container = containers[next++ % containers.length] as BoundedDrain;
      const run = container.run().then(
        (summary) => void summaries.push(summary),
        (error: unknown) => {
          failure = `drain failed: ${String(error)}`;
        },
      );
      running.add(run);
      void run.finally(() => running.delete(run));
    };
    const nudge = new OutboxNudge({
      enabled: true,
      minIntervalMs: 0,
      gate: () => state.claimNudge(20),
      trigger: async () => startDrain(),
    });
    let nudged = 0;

    // Steady load: 4 clients paying one after another, each payment followed by its nudge.
    const accounts: Account[] = [];
    for (let i = 0; i < 8; i += 1) accounts.push(await fx.openFundedAccount(1_000_000n, "EUR", `payer-${i}`));
    let committed = 0;
    let stopLoad = false;
    const clients = Array.from({ length: 4 }, async (_, c) => {
      for (let i = 0; !stopLoad; i += 1) {
        const payer = accounts[(c * 2 + i) % accounts.length] as Account;
        const payee = accounts[(c * 2 + i + 1) % accounts.length] as Account;
        const result = await fx.service.authorizePayment({
          idempotencyKey: uniqueKey("stall"),
          payerAccountId: payer.accountId,
          payeeAccountId: payee.accountId,
          amountCents: 1n,
          currency: "EUR",
          description: "",
        });
        if (result.status !== "AUTHORIZED") failure = `payment ${result.paymentId} ${result.status}`;
        committed += 1;
        if (await nudge.afterCommit()) nudged += 1;
      }
    });
    // Uncoordinated extra invocations (schedules, retries): three at a time, often.
    const cron = setInterval(() => {
      for (let i = 0; i < 3; i += 1) startDrain();
    }, 100);

    try {
      const published = async () =>
        (await fx.pool.query("SELECT count(*)::int AS n FROM outbox WHERE published_at IS NOT NULL")).rows[0]
          .n;
      await until(async () => (await published()) >= 100, "deliveries before the stall");

      broker.freeze();
      const committedAtFreeze = committed;
      const outageReports = () => summaries.filter((s) => s.stoppedBy === "broker-unavailable").length;
      await until(() => outageReports() >= 2, "drains noticing the stall");
      // The nudge stops while the broker is down, for every container.
      const nudgedDuringOutage = nudged;
      await until(() => committed >= committedAtFreeze + 200, "payments committing during the stall");
      expect(nudged).toBe(nudgedDuringOutage);
      expect(await state.claimNudge(0)).toBe(false);
      const committedDuringStall = committed - committedAtFreeze;

      broker.thaw();
      const committedAtThaw = committed;
      await until(() => committed >= committedAtThaw + 100, "payments after the stall");
      stopLoad = true;
      await Promise.all(clients);
      await until(
        async () =>
          (await fx.pool.query("SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL")).rows[0]
            .n === 0,
        "the backlog delivered after the stall",
      );
      clearInterval(cron);
      while (running.size > 0) await Promise.all([...running]);

      expect(failure).toBeUndefined();
      expect(committedDuringStall).toBeGreaterThanOrEqual(200);
      expect(maxWorking).toBeLessThanOrEqual(MAX_DRAINS);
      expect(maxWorking).toBeGreaterThanOrEqual(1);
      // The bound was tested: some invocations found every slot taken and did nothing.
      expect(summaries.some((s) => s.stoppedBy === "no-slot")).toBe(true);
      for (const s of summaries.filter((x) => x.stoppedBy === "no-slot")) expect(s.claimed).toBe(0);
      expect(await slots.held()).toBe(0);
      // A drain that got through lifted the outage pause: nudges flow again.
      expect(await state.claimNudge(0)).toBe(true);

      const rows = await outboxRows(fx.pool);
      expect(rows.length).toBe(committed + accounts.length);
      expect(
        rows.every((r) => r.published_at !== null && r.attempts === 0 && r.dead_lettered_at === null),
      ).toBe(true);
      const delivered = new Set((await readTopics(kafka, topics)).map((m) => m.headers.event_id));
      for (const row of rows) expect(delivered.has(row.id)).toBe(true);
    } finally {
      stopLoad = true;
      clearInterval(cron);
      broker.thaw();
      await Promise.allSettled(clients);
      while (running.size > 0) await Promise.allSettled([...running]);
    }
  }, 240_000);
});
