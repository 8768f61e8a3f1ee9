/**
 * LocalStack with the Postgres and Kafka its functions use, for the LocalStack e2e tests:
 *   1. LOCALSTACK_ENDPOINT: that LocalStack; its functions must reach this run's Postgres and
 *      Kafka at their host addresses (a host-mode LocalStack does);
 *   2. Docker answers: Postgres, Redpanda and LocalStack containers on one network, the
 *      functions as containers reaching the others by name;
 *   3. host mode (tools/local-services/localstack.ts): LocalStack on this machine with the
 *      node-process executor; the functions use this run's shared Postgres (through its
 *      PgBouncer, when the run has one) and Kafka.
 * Otherwise the reason is given and the tests skip.
 *
 * Either way the deployed functions reach Postgres through the transaction-mode pooler (the
 * dev stage's database secret names it, as it names RDS Proxy in AWS) and migrate reaches it
 * directly (MIGRATION_DATABASE_URL, the dev stage's migration secret).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { dockerStatus } from "../../tools/local-services/docker.ts";
import { type KafkaClientEnv, prefixed } from "../../tools/local-services/kafka.ts";
import { hostModeUnavailable, provideLocalStack } from "../../tools/local-services/localstack.ts";
import { withDatabase } from "../../tools/local-services/postgres.ts";
import { testPooler } from "./database.ts";

export interface LocalStackStack {
  source: "env" | "docker" | "host";
  endpoint: string;
  /** What this test uses to reach the stage's database (directly) and the broker. */
  databaseUrl(stage: "local" | "dev"): string;
  /** How this test reaches the broker (its client settings: SASL_SSL, the CA, a login). */
  kafkaEnv: KafkaClientEnv;
  /** The dev stage's DATABASE_URL as the init script seeds it: through the pooler when there is one. */
  devFunctionDatabaseUrl: string;
  /** host:port of the pooler the functions' database URLs name, as the functions reach it; undefined: none. */
  poolerAddress: string | undefined;
  /** Settings for localstack/deploy.sh: where the deployed functions find them. */
  deployEnv: Record<string, string>;
  output(): Promise<string>;
  stop(): Promise<void>;
}

/** Settings every way of running LocalStack gets for these tests. */
export const LOCALSTACK_TEST_ENV = {
  // Lambda's async retries after 1 s and 2 s instead of 1 and 2 minutes: same path, shorter wait.
  LAMBDA_RETRY_BASE_DELAY: "1",
  // The dev stage's HTTP API (API Gateway v2) is not in community LocalStack: skipped, not failed.
  CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES: "1",
};

export async function localStackAvailability(): Promise<{
  kind?: LocalStackStack["source"];
  reason: string;
}> {
  if (process.env.LOCALSTACK_ENDPOINT) return { kind: "env", reason: "LOCALSTACK_ENDPOINT" };
  const docker = await dockerStatus();
  if (docker.available) return { kind: "docker", reason: docker.reason };
  const hostProblem = await hostModeUnavailable();
  if (!hostProblem) return { kind: "host", reason: `no Docker (${docker.reason}): host mode` };
  return { reason: `no Docker (${docker.reason}) and no host mode (${hostProblem})` };
}

export interface LocalStackStackOptions {
  /** Host mode: the dev stage's JWT_JWKS_URL (a key set served on this machine), so tests can call its api. */
  devJwksUrl?: string;
}

export async function startLocalStackStack(
  kind: LocalStackStack["source"],
  options: LocalStackStackOptions = {},
): Promise<LocalStackStack> {
  if (kind === "docker") {
    const { startDockerStack } = await import("./localstack-docker.ts");
    return startDockerStack();
  }
  const admin = inject("pgAdminUrl");
  const suffix = randomBytes(4).toString("hex");
  const urls = {
    local: await createDatabase(admin, `localstack_local_${suffix}`),
    dev: await createDatabase(admin, `localstack_dev_${suffix}`),
  };
  const kafkaEnv = JSON.parse(inject("kafkaEnv")) as KafkaClientEnv;
  const pooler = testPooler();
  const pooled = (url: string) => pooler?.pooledUrl(url) ?? url;
  const localstack = await provideLocalStack({
    log: (line) => console.log(line),
    // The init script seeds the dev stage's parameters with these (functions run on this machine).
    env: {
      ...LOCALSTACK_TEST_ENV,
      DEV_DATABASE_URL: pooled(urls.dev),
      DEV_MIGRATION_DATABASE_URL: urls.dev,
      DEV_KAFKA_BROKERS: kafkaEnv.KAFKA_BROKERS ?? "",
      ...(options.devJwksUrl && { DEV_JWT_JWKS_URL: options.devJwksUrl }),
    },
  });
  return {
    source: localstack.source,
    endpoint: localstack.endpoint,
    databaseUrl: (stage) => urls[stage],
    kafkaEnv,
    devFunctionDatabaseUrl: pooled(urls.dev),
    poolerAddress: pooler ? new URL(pooled(urls.dev)).host : undefined,
    deployEnv: {
      LOCALSTACK_ENDPOINT: localstack.endpoint,
      LOCALSTACK_DATABASE_URL: pooled(urls.local),
      LOCALSTACK_MIGRATION_DATABASE_URL: urls.local,
      // The functions run on this machine: the shared broker's listener, its CA's path, its login.
      ...prefixed("LOCALSTACK_", kafkaEnv),
    },
    output: localstack.output,
    stop: localstack.stop,
  };
}

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, name);
}
