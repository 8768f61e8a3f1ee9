/**
 * What differs between the stages (local, dev, prod), as data: settings,
 * limits, retention, alarms, tracing and the network. Everything else in
 * infra/ derives the template from one stage's settings.
 *
 * Why CloudFormation dynamic references ({{resolve:ssm:...}}) instead of the
 * framework's ${ssm:...}: the framework resolves ${ssm:...} on every command,
 * so `serverless package` would need AWS credentials and SSM access, and it
 * would bake the values into the template in the deployment bucket. Dynamic
 * references are resolved by CloudFormation during the deploy, so packaging
 * any stage works offline and the template holds only parameter names.
 * Secrets (the database connection, Kafka SASL credentials, the page token key) are different:
 * a dynamic reference would put their plaintext into the functions'
 * configuration, readable by anyone with lambda:GetFunctionConfiguration, and
 * a rotation would need a redeploy. So the environment names the secret
 * (DATABASE_SECRET_ARN, KAFKA_SASL_SECRET_ARN, PAGE_TOKEN_SECRET_ARN) and the function reads it from
 * Secrets Manager at run time (lib/aws/secrets.ts); each role may read exactly
 * the secrets its function uses (infra/iam.ts).
 */
import { LOCAL_STAGE_SETTINGS } from "../lib/config/catalogue.ts";
import { read } from "../lib/config/declare.ts";
import { DRAIN_SCHEDULE } from "../lib/config/stage.ts";
import type { AlarmThresholds } from "./monitoring.ts";

export const SERVICE = "payment-ledger";
export const STAGES = ["local", "dev", "prod"] as const;
export type Stage = (typeof STAGES)[number];

export type Environment = Record<string, string>;
type Env = Readonly<Record<string, string | undefined>>;

export interface StageSettings {
  /** Settings shared by every function (database, Kafka, logging); never a secret's value. */
  environment: Environment;
  /** Settings only the functions that publish to Kafka read (drainOutbox, deadLetter). */
  kafkaEnvironment: Environment;
  /**
   * dev/prod: the Secrets Manager secrets (names) of the database connection, the
   * key that signs the api's page tokens and the
   * Kafka SASL credentials; each function's role may read only those it uses.
   */
  secrets?: {
    database: string;
    databaseMigrations: string;
    kafka: string;
    pageToken: string;
    kafkaKeyParameter?: string;
  };
  /**
   * dev/prod: the api's reserved concurrency, its share of the RDS Proxy connection
   * budget (see the api function in infra/functions.ts). Unset: unreserved (local).
   */
  apiReservedConcurrency?: number;
  /** Settings only the api reads (JWT, CORS). */
  apiEnvironment: Environment;
  /** How often the schedule drains the outbox; the api's nudge covers the gap in between. */
  drainSchedule: { rate: string; enabled: boolean };
  /**
   * The rate limit: API Gateway throttles every route to this steady rate
   * (requests/s) and burst (bucket size) before a Lambda is invoked.
   */
  throttle: { rateLimit: number; burstLimit: number };
  /**
   * At most this many drains at once, and always this many available. One
   * drain keeps up (it sends whole batches per Kafka request); a second lets
   * a nudge run while a scheduled run is still going. More would only split
   * the same backlog (leases keep that safe) while each holds a Postgres
   * connection and a Kafka producer: load, not throughput. Nudges beyond the
   * limit are throttled and expire (maximumEventAge); the next run picks their
   * events up. Reserving also keeps a busy api from starving the drain.
   * (A new AWS account's concurrency quota of 10 leaves nothing to reserve:
   * request a quota increase before deploying there.)
   */
  drainReservedConcurrency: number;
  logRetentionInDays: 7 | 14 | 30 | 90 | 365;
  /** dev/prod: alarm thresholds (infra/monitoring.ts; what each means: README, Operating). */
  alarms?: AlarmThresholds;
  /**
   * X-Ray active tracing of every function, and our own segments on top
   * (XRAY_TRACING_ENABLED: the api's subsegment, the drain's publish segments;
   * lib/observability/xray.ts). Off on local: offline and LocalStack have no
   * X-Ray daemon, and with it off no X-Ray code is loaded.
   */
  tracing: boolean;
  /**
   * prod only: the functions run in private subnets to reach RDS Proxy. Those
   * subnets need a route to the brokers and to the Lambda API (a NAT gateway
   * or a "lambda" interface VPC endpoint) for the nudge and dead-letter invokes.
   */
  vpc?: { subnetIdsParameter: string; securityGroupIdsParameter: string };
}

/**
 * The local stage forwards from the shell every setting a function reads,
 * except those serverless.ts or Lambda set (LOCAL_STAGE_SETTINGS, from the
 * declarations in lib/config/); unset ones take their defaults there. In the
 * shell's order, so the same shell packages the same template.
 */
function fromShell(env: Env): Environment {
  return Object.fromEntries(
    Object.entries(env).flatMap(([name, value]) =>
      LOCAL_STAGE_SETTINGS.has(name) && value ? [[name, value]] : [],
    ),
  );
}

/** DRAIN_SCHEDULE: a rate()/cron() expression, or "off" (tests that invoke the drain themselves). */
function localDrainSchedule(env: Env): StageSettings["drainSchedule"] {
  const schedule = read(env, DRAIN_SCHEDULE);
  // Off: the default rate, disabled (a schedule needs a valid expression).
  if (schedule === "off") return { rate: read({}, DRAIN_SCHEDULE), enabled: false };
  return { rate: schedule, enabled: true };
}

/** A value CloudFormation reads from SSM Parameter Store at deploy time. */
const ssm = (stage: Stage, name: string) => `{{resolve:ssm:/${SERVICE}/${stage}/${name}}}`;

type CloudSettings = Pick<StageSettings, "environment" | "kafkaEnvironment" | "apiEnvironment" | "secrets">;

function cloudSettings(stage: "dev" | "prod"): CloudSettings {
  const secrets = {
    // RDS's secret shape ({"username", "password", "host", "port", "dbname"}), so managed
    // rotation can keep it; prod: host is the RDS Proxy endpoint, so hundreds of Lambda
    // containers share a small pool of server connections. {"url": "postgres://…"} also works.
    database: `${SERVICE}/${stage}/database`,
    // migrate's own connection (MIGRATION_DATABASE_SECRET_ARN): the database instance itself, not
    // the proxy, as a role that owns the schema (docs/deploying.md).
    databaseMigrations: `${SERVICE}/${stage}/database-migrations`,
    // dev: Redpanda Cloud (SCRAM-SHA-256); prod: MSK with SASL/SCRAM, whose secrets must be
    // named AmazonMSK_*, hold {"username", "password"} and be encrypted with a customer managed
    // KMS key, which the readers must be allowed to decrypt with (named by an SSM parameter).
    kafka: stage === "prod" ? `AmazonMSK_${SERVICE}-${stage}` : `${SERVICE}/${stage}/kafka`,
    // The api's page token key: the key itself, or {"current", "previous"} while rotating.
    pageToken: `${SERVICE}/${stage}/page-token`,
    ...(stage === "prod" && { kafkaKeyParameter: `/${SERVICE}/prod/kafka-secret-kms-key-arn` }),
  };
  return {
    secrets,
    environment: {
      DATABASE_SECRET_ARN: secrets.database,
      OUTBOX_BATCH_SIZE: ssm(stage, "outbox-batch-size"),
      OUTBOX_MAX_ATTEMPTS: ssm(stage, "outbox-max-attempts"),
      POWERTOOLS_LOG_LEVEL: stage === "prod" ? "INFO" : "DEBUG",
    },
    kafkaEnvironment: {
      KAFKA_BROKERS: ssm(stage, "kafka-brokers"),
      KAFKA_SSL: "true",
      KAFKA_SASL_MECHANISM: stage === "prod" ? "scram-sha-512" : "scram-sha-256",
      KAFKA_SASL_SECRET_ARN: secrets.kafka,
    },
    apiEnvironment: {
      JWT_ISSUER: ssm(stage, "jwt-issuer"),
      JWT_AUDIENCE: ssm(stage, "jwt-audience"),
      JWT_JWKS_URL: ssm(stage, "jwt-jwks-url"),
      // e.g. cognito:groups; OPERATOR_SCOPE (default ledger:operator) names the operators' group.
      JWT_OPERATOR_CLAIM: ssm(stage, "jwt-operator-claim"),
      CORS_ALLOWED_ORIGINS: ssm(stage, "cors-allowed-origins"),
      PAGE_TOKEN_SECRET_ARN: secrets.pageToken,
    },
  };
}

/** One stage's settings; the local stage's come from `env` (the shell). */
export function stageSettings(stage: Stage, env: Env): StageSettings {
  switch (stage) {
    case "local":
      return {
        environment: fromShell(env),
        kafkaEnvironment: {},
        apiEnvironment: {},
        drainSchedule: localDrainSchedule(env),
        throttle: { rateLimit: 1000, burstLimit: 2000 },
        drainReservedConcurrency: 2,
        logRetentionInDays: 7,
        tracing: false,
      };
    case "dev":
      return {
        ...cloudSettings("dev"),
        drainSchedule: { rate: "rate(1 minute)", enabled: true },
        throttle: { rateLimit: 50, burstLimit: 100 },
        drainReservedConcurrency: 2,
        apiReservedConcurrency: 10,
        logRetentionInDays: 14,
        alarms: { outboxLagMs: 120_000, apiServerErrors: 10, drainFailures: 2, retentionLagMs: 3_600_000 },
        tracing: true,
      };
    case "prod":
      return {
        ...cloudSettings("prod"),
        drainSchedule: { rate: "rate(1 minute)", enabled: true },
        throttle: { rateLimit: 500, burstLimit: 1000 },
        drainReservedConcurrency: 4,
        apiReservedConcurrency: 100,
        logRetentionInDays: 90,
        alarms: { outboxLagMs: 60_000, apiServerErrors: 5, drainFailures: 1, retentionLagMs: 1_800_000 },
        tracing: true,
        vpc: {
          subnetIdsParameter: `/${SERVICE}/prod/private-subnet-ids`,
          securityGroupIdsParameter: `/${SERVICE}/prod/lambda-security-group-ids`,
        },
      };
  }
}
