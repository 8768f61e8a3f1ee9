/**
 * LocalStack with the Postgres and Kafka its functions use, for the LocalStack e2e tests:
 *   1. LOCALSTACK_ENDPOINT: that LocalStack; its functions must reach this run's Postgres and
 *      Kafka at their host addresses (a host-mode LocalStack does);
 *   2. Docker answers: Postgres, Redpanda and LocalStack containers on one network, the
 *      functions as containers reaching the others by name;
 *   3. host mode (tools/local-services/localstack.ts): LocalStack on this machine with the
 *      node-process executor; the functions use this run's shared Postgres (through its
 *      PgBouncer, when the run has one) and Kafka, and the dev stage is a rehearsal of prod's
 *      wiring on them (tools/local-services/localstack-dev-stage.ts).
 * Otherwise the reason is given and the tests skip.
 *
 * Either way the deployed functions reach Postgres through the transaction-mode pooler (the
 * dev stage's database secret names it, as it names RDS Proxy in AWS) and migrate reaches it
 * directly (MIGRATION_DATABASE_URL, the dev stage's migration secret).
 */
import { dockerStatus } from "../../tools/local-services/docker.ts";
import { type KafkaClientEnv, prefixed } from "../../tools/local-services/kafka.ts";
import { hostModeUnavailable, provideLocalStack } from "../../tools/local-services/localstack.ts";
import { devStageRehearsalEnv } from "../../tools/local-services/localstack-dev-stage.ts";
import { freshDatabase } from "../../tools/local-services/postgres.ts";

export type Stage = "local" | "dev";

/** What the tests know of a running stack: plain data, so the keeper can hand it to every test file. */
export interface LocalStackStackInfo {
  source: "env" | "docker" | "host";
  endpoint: string;
  /** Each stage's database, directly (what a test uses to look inside it). */
  databaseUrls: Record<Stage, string>;
  /** How this test reaches the broker (its client settings: SASL_SSL, the CA, a login). */
  kafkaEnv: KafkaClientEnv;
  /** The dev stage's DATABASE_URL as the init script seeds it: through the pooler when there is one. */
  devFunctionDatabaseUrl: string;
  /** host:port of the pooler the functions' database URLs name, as the functions reach it; absent: none. */
  poolerAddress?: string;
  /** Settings for localstack/deploy.sh: where the deployed functions find them. */
  deployEnv: Record<string, string>;
}

export interface LocalStackStack extends LocalStackStackInfo {
  output(): Promise<string>;
  stop(): Promise<void>;
}

/** The local stage's token settings, deployed with it: its api accepts tokens signed with this secret. */
export const LOCAL_STAGE_AUTH_ENV = {
  JWT_SECRET: "localstack-e2e-secret-0123456789abcdef",
  JWT_ISSUER: "https://issuer.localstack.test",
  JWT_AUDIENCE: "payment-ledger-localstack",
};

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

/** The run's shared services (tests/support/global-setup.ts), as the functions of a host-mode stack use them. */
export interface RunServices {
  /** A direct superuser session to the run's Postgres. */
  pgAdminUrl: string;
  /** host:port of the run's transaction-mode pooler; "" when there is none. */
  pgPooler: string;
  kafkaEnv: KafkaClientEnv;
  /** Host mode: the dev stage's JWT_JWKS_URL (a key set served on this machine), so tests can call its api. */
  devJwksUrl?: string | undefined;
}

export async function startLocalStackStack(
  kind: LocalStackStack["source"],
  services: RunServices,
): Promise<LocalStackStack> {
  if (kind === "docker") {
    const { startDockerStack } = await import("./localstack-docker.ts");
    return startDockerStack();
  }
  const pooler = services.pgPooler
    ? {
        pooledUrl: (directUrl: string) => {
          const url = new URL(directUrl);
          url.host = services.pgPooler;
          return url.toString();
        },
      }
    : undefined;
  // Empty: each stage's deploy migrates its own, through its migrate function.
  const [local, dev] = await Promise.all(
    (["localstack_local", "localstack_dev"] as const).map((prefix) =>
      freshDatabase(services.pgAdminUrl, prefix, { migrate: false, pooler }),
    ),
  );
  if (!local || !dev) throw new Error("unreachable: two databases asked for");
  const { kafkaEnv } = services;
  const localstack = await provideLocalStack({
    log: (line) => console.log(line),
    env: {
      ...LOCALSTACK_TEST_ENV,
      // The init script seeds the dev stage's parameters and secrets with these (its functions
      // run on this machine), and the functions trust the local broker's CA.
      ...devStageRehearsalEnv({
        databaseUrl: dev.url,
        migrationUrl: dev.directUrl,
        kafkaEnv,
        jwksUrl: services.devJwksUrl,
      }),
    },
  });
  return {
    source: localstack.source,
    endpoint: localstack.endpoint,
    databaseUrls: { local: local.directUrl, dev: dev.directUrl },
    kafkaEnv,
    devFunctionDatabaseUrl: dev.url,
    ...(pooler && { poolerAddress: services.pgPooler }),
    deployEnv: {
      LOCALSTACK_ENDPOINT: localstack.endpoint,
      LOCALSTACK_DATABASE_URL: local.url,
      LOCALSTACK_MIGRATION_DATABASE_URL: local.directUrl,
      // The functions run on this machine: the shared broker's listener, its CA's path, its login.
      ...prefixed("LOCALSTACK_", kafkaEnv),
    },
    output: localstack.output,
    stop: async () => {
      await localstack.stop();
      // The functions' sessions ended with LocalStack; a server given by DATABASE_URL keeps nothing.
      await Promise.allSettled([local.drop(), dev.drop()]);
    },
  };
}
