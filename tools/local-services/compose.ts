/**
 * docker-compose.yml's Postgres, PgBouncer and Redpanda for a local run (`npm run dev -- --docker`):
 * started with their health checks awaited, described as the other local services describe
 * themselves (a direct URL, a pooled URL, a Kafka client's settings), and stopped afterwards:
 * only the services this run started, so a stack that was already up stays up.
 */
import { spawn } from "node:child_process";
import { resolve as resolvePath } from "node:path";
import { databaseConfig } from "../../lib/config.ts";
import { dockerStatus } from "./docker.ts";
import { type KafkaClientEnv, scramTlsClientEnv } from "./kafka/client-env.ts";
import { PROJECT_ROOT } from "./offline.ts";

const SERVICES = ["postgres", "pgbouncer", "redpanda"];
// docker-compose.yml's pgbouncer, in front of its postgres (5432, DATABASE_URL's default).
const POOLER_PORT = 6432;

export interface ComposeStack {
  /** Through the pooler (pgbouncer:6432), as the functions connect. */
  databaseUrl: string;
  /** Postgres itself (5432), as migrate connects. */
  migrationUrl: string;
  /** Redpanda's host listener: SASL_SSL with the CA and the login docker-compose.yml makes (local only). */
  kafkaEnv: KafkaClientEnv;
  /** The services this run started (empty: all were already up). */
  started: string[];
  /** Stops the services this run started. */
  stop(): Promise<void>;
}

export async function startComposeStack(log: (line: string) => void): Promise<ComposeStack> {
  const docker = await dockerStatus();
  if (!docker.available) throw new Error(`--docker needs a running Docker daemon (${docker.reason})`);
  const running = await compose(["ps", "--status", "running", "--services"], true);
  const started = SERVICES.filter((service) => !running.split("\n").includes(service));
  log(`docker compose: starting ${SERVICES.join(", ")} (waiting for their health checks)`);
  try {
    await compose(["up", "--detach", "--wait", ...SERVICES]);
  } catch (error) {
    // A health check that failed leaves what this run started running: stop it before reporting.
    if (started.length > 0) await compose(["stop", ...started]).catch(() => undefined);
    throw error;
  }
  // The compose ports match lib/config.ts's defaults: Postgres on DATABASE_URL's, PgBouncer beside it.
  const migrationUrl = databaseConfig({}).url;
  const pooled = new URL(migrationUrl);
  pooled.port = String(POOLER_PORT);
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
    started,
    stop: async () => {
      if (started.length > 0) await compose(["stop", ...started]);
    },
  };
}

/** `docker compose <args>` in the project directory; resolves with what it printed on stdout. */
function compose(args: string[], quiet = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", ["compose", ...args], {
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
