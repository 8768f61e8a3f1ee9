/**
 * A stalled broker under steady payment load. The broker JVM is paused with
 * SIGSTOP for --stall seconds and resumed with SIGCONT, while payments go
 * through PaymentService at --rate per second, each followed by the api's
 * nudge (fleet-wide gate in Postgres), and "schedules" start drains every
 * --cron-ms across --containers drain containers bounded by
 * OUTBOX_MAX_CONCURRENT_DRAINS (--slots) leased drain slots.
 *
 * Reports AuthorizePayment latency (commit + nudge, as the api awaits it)
 * p50/p99 before, during and after the stall; how long after the broker's
 * return 1-second p99 is back within 1.5x of the pre-stall p99 for good; and
 * how long until every event is in Kafka.
 *
 *   npm run bench:stall -- [--rate 100] [--before 10] [--stall 10] [--after 20]
 *                          [--slots 2] [--containers 8] [--cron-ms 1000]
 *
 * Needs a broker process it owns (a local Apache Kafka JVM), so it ignores KAFKA_BROKERS.
 */
import { randomBytes } from "node:crypto";
import { systemClock } from "../lib/clock.ts";
import { databaseConfig, kafkaConfig, outboxConfig } from "../lib/config.ts";
import { createPool } from "../lib/db/pool.ts";
import { createEventValidators } from "../lib/events/validators.ts";
import { newId } from "../lib/ids.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { KafkaPublisher } from "../lib/kafka/publisher.ts";
import { PgLedgerStore } from "../lib/ledger/pg-ledger-store.ts";
import { ensureLedgerTopics } from "../lib/ops/topics.ts";
import { BoundedDrain } from "../lib/outbox/bounded-drain.ts";
import { OutboxDrain } from "../lib/outbox/drain.ts";
import { DrainSlots } from "../lib/outbox/drain-slots.ts";
import { DrainStateRepository } from "../lib/outbox/drain-state.ts";
import { OutboxNudge } from "../lib/outbox/nudge.ts";
import { OutboxRepository } from "../lib/outbox/outbox-repository.ts";
import type { Account } from "../lib/payments/model.ts";
import { PaymentService } from "../lib/payments/service.ts";
import { startLocalBroker } from "../tools/local-services/kafka/local-broker.ts";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import { argValue, formatMs, machineLine, openFundedAccounts, printTable } from "./support.ts";

const rate = argValue("rate", 100);
const beforeS = argValue("before", 10);
const stallS = argValue("stall", 10);
const afterS = argValue("after", 20);
const slotCount = argValue("slots", 2);
const containerCount = argValue("containers", 8);
const cronMs = argValue("cron-ms", 1000);

const log = (line: string) => console.error(line);
const [postgres, broker] = await Promise.all([
  providePostgres({ durable: true, log }),
  startLocalBroker(log),
]);
const db = await freshDatabase(postgres.adminUrl, "stall");
// A generous connect (and pool wait) timeout: a failed payment here should mean the stall hurt it, not a busy box.
const apiPool = createPool({
  ...databaseConfig({ DATABASE_URL: db.url }),
  poolMax: 20,
  connectTimeoutMs: 30_000,
});
const drainPool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 20 });
const service = new PaymentService(new PgLedgerStore(apiPool), { idempotencyKeyTtlSeconds: 86_400 });
const kafkaSettings = kafkaConfig({ ...broker.env, KAFKA_LOG_LEVEL: "nothing" });
const prefix = `stall${randomBytes(3).toString("hex")}.payments`;
const publishers: KafkaPublisher[] = [];

try {
  // The topics step of a deploy (npm run topics): the broker makes none by itself.
  await ensureLedgerTopics({ ...broker.env, OUTBOX_TOPIC_PREFIX: prefix });
  const accounts = await openFundedAccounts(service, 50);

  const settings = outboxConfig({ OUTBOX_TOPIC_PREFIX: prefix });
  const slots = new DrainSlots(drainPool, slotCount, settings.drainSlotLeaseMs);
  const state = new DrainStateRepository(drainPool);
  const apiState = new DrainStateRepository(apiPool);
  const containers = Array.from({ length: containerCount }, (_, i) => {
    const publisher = new KafkaPublisher(createKafka(kafkaSettings));
    publishers.push(publisher);
    const drain = new OutboxDrain({
      repository: new OutboxRepository(drainPool),
      publisher,
      deadLetters: {
        async deadLetter(envelope) {
          throw new Error(`unexpected dead letter ${envelope.event_id}`);
        },
      },
      validators: createEventValidators(),
      clock: systemClock,
      config: settings,
      name: `container-${i}`,
    });
    return new BoundedDrain({ drain, slots, state, outagePauseMs: settings.nudgeOutagePauseMs });
  });
  let next = 0;
  let invocations = 0;
  let maxWorking = 0;
  const running = new Set<Promise<unknown>>();
  const startDrain = () => {
    invocations += 1;
    const run = (containers[next++ % containers.length] as BoundedDrain)
      .run()
      .catch((error: unknown) => console.error("drain failed", error));
    running.add(run);
    void run.finally(() => running.delete(run));
  };
  const sampler = setInterval(async () => {
    maxWorking = Math.max(maxWorking, await slots.held());
  }, 50);
  const nudge = new OutboxNudge({
    enabled: true,
    minIntervalMs: settings.nudgeMinIntervalMs,
    gate: () => apiState.claimNudge(settings.nudgeMinIntervalMs),
    trigger: async () => startDrain(),
  });
  const cron = setInterval(startDrain, cronMs);

  // Open loop: a payment is started every 1/rate s whatever the earlier ones do.
  const samples: { startedMs: number; ms: number }[] = [];
  const failures: { startedMs: number; error: string }[] = [];
  const t0 = performance.now();
  const stallAt = t0 + beforeS * 1000;
  const thawAt = stallAt + stallS * 1000;
  const endAt = thawAt + afterS * 1000;
  let frozen = false;
  let thawed = false;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; ; i += 1) {
    const due = t0 + (i * 1000) / rate;
    if (due >= endAt) break;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (!frozen && performance.now() >= stallAt) {
      broker.freeze();
      frozen = true;
      console.error("broker frozen (SIGSTOP)");
    }
    if (!thawed && performance.now() >= thawAt) {
      broker.thaw();
      thawed = true;
      console.error("broker resumed (SIGCONT)");
    }
    const payer = accounts[i % accounts.length] as Account;
    const payee = accounts[(i + 7) % accounts.length] as Account;
    const started = performance.now();
    inFlight.push(
      service
        .authorizePayment({
          idempotencyKey: `stall-${i}-${newId()}`,
          payerAccountId: payer.accountId,
          payeeAccountId: payee.accountId,
          amountCents: 1n,
          currency: "EUR",
          description: "",
        })
        .then(async () => {
          await nudge.afterCommit();
          samples.push({ startedMs: started - t0, ms: performance.now() - started });
        })
        .catch((error: unknown) => {
          failures.push({ startedMs: started - t0, error: String(error) });
        }),
    );
  }
  await Promise.all(inFlight);
  const pending = async () =>
    (await apiPool.query("SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL")).rows[0]
      .n as number;
  while ((await pending()) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  const deliveredAt = performance.now();
  clearInterval(cron);
  clearInterval(sampler);
  while (running.size > 0) await Promise.all([...running]);

  const quantile = (values: number[], q: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
  };
  const phase = (from: number, to: number) =>
    samples.filter((s) => s.startedMs >= from && s.startedMs < to).map((s) => s.ms);
  const before = phase(1000, beforeS * 1000);
  const during = phase(beforeS * 1000, (beforeS + stallS) * 1000);
  const after = phase((beforeS + stallS) * 1000, Number.POSITIVE_INFINITY);
  const baselineP99 = quantile(before, 0.99);
  // 1-second buckets after the thaw; recovered from the first bucket after which all stay within 1.5x.
  const thawMs = (beforeS + stallS) * 1000;
  const buckets: number[] = [];
  for (let s = 0; s < afterS; s += 1)
    buckets.push(quantile(phase(thawMs + s * 1000, thawMs + (s + 1) * 1000), 0.99));
  let recovered = buckets.length;
  for (let s = buckets.length - 1; s >= 0 && (buckets[s] as number) <= 1.5 * baselineP99; s -= 1)
    recovered = s;
  const row = (name: string, values: number[]) => [
    name,
    String(values.length),
    formatMs(quantile(values, 0.5) * 1e6),
    formatMs(quantile(values, 0.99) * 1e6),
  ];
  console.log(
    `\nAuthorizePayment under a broker stall (SIGSTOP ${stallS} s), ${rate}/s, ${containerCount} drain containers, OUTBOX_MAX_CONCURRENT_DRAINS=${slotCount}, schedule every ${cronMs} ms + nudges; Postgres ${postgres.source} durable, Kafka local`,
  );
  printTable(
    ["phase", "payments", "p50", "p99"],
    [
      row(`before (${beforeS - 1} s, after 1 s warm-up)`, before),
      row(`during the stall (${stallS} s)`, during),
      row(`after the broker's return (${afterS} s)`, after),
      [
        "p99 back within 1.5x of before, after the return",
        "",
        "",
        recovered >= buckets.length ? `not within ${afterS} s` : `${recovered} s`,
      ],
      [
        "every event in Kafka, after the return",
        "",
        "",
        `${((deliveredAt - t0 - thawMs) / 1000).toFixed(1)} s`,
      ],
      ["drain invocations / most drains working at once", "", String(invocations), String(maxWorking)],
      ["failed payments (all phases)", String(failures.length), "", ""],
    ],
  );
  console.log(`p99 per second after the return (ms): ${buckets.map((b) => b.toFixed(1)).join(" ")}`);
  console.log(machineLine());
} finally {
  try {
    broker.thaw();
  } catch {
    // Not frozen, or already stopped.
  }
  await Promise.allSettled(publishers.map((p) => p.close()));
  await drainPool.end();
  await apiPool.end();
  await db.drop();
  await Promise.all([postgres.stop(), broker.stop()]);
}
