/**
 * `npm run dev`: the whole service on this machine with one command.
 *
 *   Postgres   DATABASE_URL, else a container (Docker), else an embedded server
 *   pooler     (not with DATABASE_URL, used as given) PgBouncer in transaction mode in
 *              front of it, as RDS Proxy in production: the functions, the seed and the
 *              summary connect through it; migrate connects to Postgres itself
 *              (MIGRATION_DATABASE_URL), as the deploy does
 *   Kafka      KAFKA_BROKERS (and the other KAFKA_* settings of this shell), else a
 *              Redpanda container, else a local Apache Kafka JVM; these two as managed
 *              Kafka runs: TLS with a CA made at start, SCRAM logins, no topic created
 *              by itself
 *   then       migrate, create the topics (npm run topics), seed alice and bob,
 *              `serverless offline` (gRPC-web on
 *              :3000, Lambda Invoke API on :3002, the drain on its local schedule),
 *              and the web client on its own origin (:5173), which the api's CORS
 *              allows, with any origins the shell's CORS_ALLOWED_ORIGINS adds
 *   while up   a one-line summary from the database every DEV_SUMMARY_INTERVAL_MS
 *              (payments/s, declines, pending, lag, dead letters), when something moved
 *
 * `npm run dev -- --docker` uses the compose stack (docker-compose.yml) instead.
 * `npm run dev -- --localstack` deploys the local stage into LocalStack (host mode, or
 * LOCALSTACK_ENDPOINT; tools/local-services/localstack.ts) instead of running serverless offline:
 * the api answers at its function URL (no web client: browsers cannot set the Host it needs).
 * Ctrl-C stops everything this command started.
 *
 * The work runs in a supervised child process (tools/local-services/supervisor.ts): Ctrl-C stops
 * what it started in order (offline, then Kafka, then Postgres) instead of everything at once.
 */
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { resolve as resolvePath } from "node:path";
import { parseArgs } from "node:util";
import { apiConfig, authConfig, databaseConfig, devConfig } from "../lib/config.ts";
import { migrate } from "../lib/db/migrate.ts";
import { createPool } from "../lib/db/pool.ts";
import { readSummarySample } from "../lib/ops/summary-sample.ts";
import { startSummarySampler } from "../lib/ops/summary-sampler.ts";
import { ensureLedgerTopics } from "../lib/ops/topics.ts";
import { startComposeStack } from "../tools/local-services/compose.ts";
import { type KafkaClientEnv, prefixed, provideKafka } from "../tools/local-services/kafka.ts";
import { provideLocalStack } from "../tools/local-services/localstack.ts";
import { apiFunctionUrl } from "../tools/local-services/localstack-api.ts";
import { deployIntoLocalStack } from "../tools/local-services/localstack-deploy.ts";
import { DUMMY_AWS_ENV, PROJECT_ROOT, startOffline } from "../tools/local-services/offline.ts";
import { type PoolerHandle, providePooler } from "../tools/local-services/pgbouncer.ts";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import { type Supervision, supervise } from "../tools/local-services/supervisor.ts";
import { startDevWebClient } from "../web/dev/start.ts";
import { DEMO_CURRENCY, type DemoAccounts, seedDemo } from "./demo-seed.ts";
import { treasuryAccountId, writeDevEnv } from "./support/dev-env-file.ts";
import { type DevServices, printInstructions } from "./support/dev-instructions.ts";

const DATABASE_NAME = "ledger";

const { values: options } = parseArgs({
  options: {
    docker: { type: "boolean", default: false },
    localstack: { type: "boolean", default: false },
    // Where other terminals find this run's addresses (`. .dev/env.sh`).
    "env-out": { type: "string", default: ".dev/env.sh" },
    "http-port": { type: "string", default: "3000" },
    "lambda-port": { type: "string", default: "3002" },
    "web-port": { type: "string", default: "5173" },
    // The supervised worker (tools/local-services/supervisor.ts).
    supervised: { type: "boolean", default: false },
  },
});

const log = (line: string) => console.log(`dev │ ${line}`);

await supervise({ script: import.meta.url, supervised: options.supervised, log }, start);

async function start(run: Supervision): Promise<void> {
  const httpPort = port(options["http-port"]);
  const lambdaPort = port(options["lambda-port"]);
  const webPort = port(options["web-port"]);
  // With --localstack nothing listens on these: LocalStack picks a free port of its own.
  if (!options.localstack)
    await Promise.all([assertFree(httpPort), assertFree(lambdaPort), assertFree(webPort)]);
  // The page's origin, which the api always lets a browser call it from, and any
  // the shell's CORS_ALLOWED_ORIGINS adds (another front end on this machine).
  const pageOrigin = `http://localhost:${webPort}`;
  const corsOrigins = [...new Set([pageOrigin, ...apiConfig(process.env).corsAllowedOrigins])];
  Object.assign(process.env, DUMMY_AWS_ENV);

  const services = options.docker ? await composeServices(run) : await localServices(run);
  if (run.shuttingDown) return;
  const { databaseUrl, migrationUrl, kafkaEnv } = services;
  const { applied } = await migrate({
    databaseUrl: migrationUrl,
    functionsRole: decodeURIComponent(new URL(databaseUrl).username),
  });
  log(applied.length ? `migrated: ${applied.join(", ")}` : "schema up to date");
  await createTopics(kafkaEnv);
  const accounts = await seed(databaseUrl);
  log(`seeded: alice ${accounts.alice.accountId}, bob ${accounts.bob.accountId} (${DEMO_CURRENCY})`);
  if (run.shuttingDown) return;

  if (options.localstack) {
    const target = await deployToLocalStack(run, services);
    if (run.shuttingDown) return;
    await printInstructions(target, accounts, services);
    startSummary(databaseUrl, run);
    return;
  }

  log("starting serverless offline (bundling the functions)…");
  const offline = await startOffline({
    httpPort,
    lambdaPort,
    env: { DATABASE_URL: databaseUrl, ...kafkaEnv, CORS_ALLOWED_ORIGINS: corsOrigins.join(",") },
    onLine: (line) => console.log(`offline │ ${line}`),
  });
  run.started({ label: "serverless offline", stop: offline.stop, died: offline.died });
  if (run.shuttingDown) return;

  const web = await startDevWebClient({
    port: webPort,
    publicHost: "localhost",
    apiUrl: `http://localhost:${httpPort}`,
    databaseUrl,
    kafkaEnv,
    auth: authConfig(process.env),
    accounts,
    env: process.env,
  });
  run.started({ label: "web client", stop: web.stop });
  if (run.shuttingDown) return;
  const envFile = await writeDevEnv(resolvePath(PROJECT_ROOT, options["env-out"]), {
    API_URL: `http://localhost:${httpPort}`,
    DATABASE_URL: databaseUrl,
    MIGRATION_DATABASE_URL: migrationUrl,
    ...kafkaEnv,
    LAMBDA_ENDPOINT: `http://127.0.0.1:${lambdaPort}`,
    DRAIN_OUTBOX_FUNCTION_NAME: "payment-ledger-local-drainOutbox",
    ALICE_ACCOUNT: accounts.alice.accountId,
    BOB_ACCOUNT: accounts.bob.accountId,
    TREASURY_ACCOUNT: await treasuryAccountId(databaseUrl),
  });
  run.started({ label: "dev env file", stop: () => rm(envFile, { force: true }) });
  await printInstructions({ baseUrl: `http://localhost:${httpPort}` }, accounts, services, {
    url: web.url,
    corsOrigins,
  });
  startSummary(databaseUrl, run);
}

/**
 * The live summary (lib/ops) on a one-connection pool of its own, stopped
 * first on shutdown (registered last), before the database it reads.
 */
function startSummary(databaseUrl: string, run: Supervision): void {
  const { summaryIntervalMs } = devConfig(process.env);
  if (summaryIntervalMs === 0) return;
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: databaseUrl }), poolMax: 1 });
  const sampler = startSummarySampler({
    intervalMs: summaryIntervalMs,
    read: (since) => readSummarySample(pool, since),
    print: (line) => console.log(`summary │ ${line}`),
  });
  run.started({
    label: "live summary",
    stop: async () => {
      await sampler.stop();
      await pool.end();
    },
  });
}

/** LocalStack with the local stage deployed into it (localstack/deploy.sh, which also migrates). */
async function deployToLocalStack(
  run: Supervision,
  services: DevServices,
): Promise<{ baseUrl: string; host: string }> {
  const localstack = await provideLocalStack({ log });
  run.started({ label: "LocalStack", stop: localstack.stop });
  log(`deploying the local stage into LocalStack at ${localstack.endpoint} (bundling, then CloudFormation)…`);
  await deployIntoLocalStack({
    stage: "local",
    env: {
      LOCALSTACK_ENDPOINT: localstack.endpoint,
      LOCALSTACK_DATABASE_URL: services.databaseUrl,
      LOCALSTACK_MIGRATION_DATABASE_URL: services.migrationUrl,
      // The functions run on this machine (host mode): they reach Kafka as this process does.
      ...prefixed("LOCALSTACK_", services.kafkaEnv),
    },
    workFolder: `.esbuild/dev-localstack-${process.pid}`,
    onLine: (line) => console.log(`deploy │ ${line}`),
  });
  return apiFunctionUrl(localstack.endpoint);
}

async function localServices(run: Supervision): Promise<DevServices> {
  const [postgres, kafka] = await Promise.allSettled([
    providePostgres({ durable: true, log, ownsSignals: true }),
    provideKafka({ log }),
  ]);
  // What DATABASE_URL or KAFKA_BROKERS named is the user's: not started here, so not "stopped" at the end.
  if (postgres.status === "fulfilled" && postgres.value.source !== "env")
    run.started({ label: "Postgres", stop: postgres.value.stop, died: postgres.value.died });
  if (kafka.status === "fulfilled" && kafka.value.source !== "env")
    run.started({ label: "Kafka", stop: kafka.value.stop, died: kafka.value.died });
  if (postgres.status === "rejected") throw postgres.reason;
  if (kafka.status === "rejected") throw kafka.reason;
  const server = postgres.value;
  const kafkaEnv = kafka.value.env;
  // DATABASE_URL is used as given, for everything (MIGRATION_DATABASE_URL still wins for migrate).
  if (server.source === "env")
    return {
      databaseUrl: server.adminUrl,
      migrationUrl: process.env.MIGRATION_DATABASE_URL || server.adminUrl,
      kafkaEnv,
    };
  // A server started here gets a pooler in front of it, and a database of its own (migrated below).
  let pooler: PoolerHandle;
  try {
    pooler = await providePooler(server, { log });
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)} (or run with --docker, or set DATABASE_URL)`,
    );
  }
  run.started({ label: "PgBouncer", stop: pooler.stop, died: pooler.died });
  const database = await freshDatabase(server.adminUrl, DATABASE_NAME, {
    name: DATABASE_NAME,
    migrate: false,
    pooler,
  });
  return { databaseUrl: database.url, migrationUrl: database.directUrl, kafkaEnv };
}

/** docker-compose.yml's services (tools/local-services/compose.ts); those started here are stopped after. */
async function composeServices(run: Supervision): Promise<DevServices> {
  const stack = await startComposeStack(log);
  if (stack.started.length > 0)
    run.started({ label: `compose ${stack.started.join(", ")}`, stop: stack.stop });
  return stack;
}

/**
 * The topics step of a deploy (npm run topics): the broker creates none by
 * itself, as managed Kafka does not. A topic that differs from the settings
 * stops the run, as it stops a deploy.
 */
async function createTopics(kafkaEnv: KafkaClientEnv): Promise<void> {
  const result = await ensureLedgerTopics({ ...process.env, ...kafkaEnv });
  for (const line of result.lines) log(`topics: ${line}`);
  if (!result.ok) throw new Error("topics differ from the settings (above): see npm run topics");
}

async function seed(databaseUrl: string): Promise<DemoAccounts> {
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: databaseUrl }), poolMax: 2 });
  try {
    return await seedDemo(pool);
  } finally {
    await pool.end();
  }
}

function port(value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) throw new Error(`not a port: ${value}`);
  return n;
}

function assertFree(portNumber: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", () =>
      reject(new Error(`port ${portNumber} is in use (choose others with --http-port / --lambda-port)`)),
    );
    server.listen(portNumber, "127.0.0.1", () => server.close(() => resolve()));
  });
}
