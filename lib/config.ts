/**
 * Every setting, read from the environment once per container, each with a
 * documented default (the README's configuration table mirrors this file).
 * A malformed value fails loudly at start-up instead of being ignored.
 */

export type Env = Record<string, string | undefined>;

// Read outside this module (by the platform or serverless.ts), documented here
// so that docs/configuration.md, generated from this file, is complete:
/** POWERTOOLS_LOG_LEVEL, default INFO: log level of the functions (Powertools Logger). */
/** POWERTOOLS_SERVICE_NAME, default payment-ledger: the service name on every log line and metric. */
/** POWERTOOLS_METRICS_DISABLED, default false: true stops the EMF metric lines (Powertools Metrics). */
/** DRAIN_SCHEDULE, default rate(1 minute): local stage only (serverless.ts), the drain's schedule, or off. */
/** AWS_XRAY_DAEMON_ADDRESS, default 127.0.0.1:2000: where X-Ray segments go over UDP (Lambda sets it; read by aws-xray-sdk-core). */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function readString(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === "" ? fallback : value;
}

export function readInt(
  env: Env,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 7d, 12h, 30m, 45s or 500ms, in milliseconds. */
export function readDurationMs(env: Env, name: string, fallback: string): number {
  const raw = readString(env, name, fallback);
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim());
  const value = match ? Number(match[1]) * (DURATION_UNITS_MS[match[2] as string] as number) : Number.NaN;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${name} must be a positive duration such as 7d, 12h, 30m or 45s, got "${raw}"`);
  }
  return value;
}

export function readList(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** A Secrets Manager secret a setting is read from at run time, and how long its value is cached. */
export interface SecretReference {
  /** The secret's ARN or name. */
  id: string;
  /**
   * SECRETS_CACHE_TTL_SECONDS, default 300: a container fetches the secret again
   * after this long, so a rotation takes effect without a redeploy. A credentials
   * error from Postgres or Kafka fetches it at once (once, then gives up).
   */
  ttlMs: number;
}

function readSecretReference(env: Env, name: string): SecretReference | undefined {
  const id = readString(env, name, "");
  if (id === "") return undefined;
  return { id, ttlMs: readInt(env, "SECRETS_CACHE_TTL_SECONDS", 300, 0, 86_400) * 1000 };
}

export interface DatabaseConfig {
  /** DATABASE_URL, default postgres://postgres:postgres@127.0.0.1:5432/ledger: Postgres (prod: the RDS Proxy endpoint, sslmode=require); ignored when DATABASE_SECRET_ARN is set. */
  url: string;
  /**
   * DATABASE_SECRET_ARN, default none: read the connection from this Secrets Manager
   * secret at run time instead: RDS's JSON shape ({"username", "password", "host",
   * "port", "dbname"}, as managed rotation writes it) or {"url": "postgres://…"}.
   */
  secret: SecretReference | undefined;
  /** DB_POOL_MAX, default 5: a Lambda container serves one request at a time. */
  poolMax: number;
  /** DB_STATEMENT_TIMEOUT_MS, default 5000: no statement runs longer. */
  statementTimeoutMs: number;
  /** DB_CONNECT_TIMEOUT_MS, default 3000: fail fast (UNAVAILABLE) when Postgres is down. */
  connectTimeoutMs: number;
}

export function databaseConfig(env: Env = process.env): DatabaseConfig {
  return {
    url: readString(env, "DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/ledger"),
    secret: readSecretReference(env, "DATABASE_SECRET_ARN"),
    poolMax: readInt(env, "DB_POOL_MAX", 5, 1, 1000),
    statementTimeoutMs: readInt(env, "DB_STATEMENT_TIMEOUT_MS", 5000, 0),
    connectTimeoutMs: readInt(env, "DB_CONNECT_TIMEOUT_MS", 3000, 0),
  };
}

export interface PaymentsConfig {
  /** IDEMPOTENCY_KEY_TTL_SECONDS, default 86400 (24 h): how long an idempotency key is remembered. */
  idempotencyKeyTtlSeconds: number;
  /**
   * PAYMENT_MIN_TIME_MS, default 50: the time a payment needs. A call whose
   * deadline leaves less is refused DEADLINE_EXCEEDED before anything is
   * written, instead of racing its commit against the client's timer.
   */
  paymentMinTimeMs?: number;
  /**
   * HOLD_MAX_DURATION, default 7d: the longest a hold (AuthorizePayment with
   * `hold`) stays capturable, like a card authorization's validity; a request
   * for longer is refused INVALID_ARGUMENT, and 0 asks for exactly this. At
   * least 1s; whole seconds.
   */
  holdMaxSeconds?: number;
}

export const DEFAULT_PAYMENT_MIN_TIME_MS = 50;
export const DEFAULT_HOLD_MAX_SECONDS = 7 * 86_400;

export function paymentsConfig(env: Env = process.env): PaymentsConfig {
  const holdMaxMs = readDurationMs(env, "HOLD_MAX_DURATION", "7d");
  if (holdMaxMs < 1000)
    throw new ConfigError(`HOLD_MAX_DURATION must be at least 1s, got "${env.HOLD_MAX_DURATION}"`);
  return {
    idempotencyKeyTtlSeconds: readInt(env, "IDEMPOTENCY_KEY_TTL_SECONDS", 86_400, 1),
    paymentMinTimeMs: readInt(env, "PAYMENT_MIN_TIME_MS", DEFAULT_PAYMENT_MIN_TIME_MS, 0, 60_000),
    holdMaxSeconds: Math.floor(holdMaxMs / 1000),
  };
}

export interface LedgerConfig {
  /**
   * LEDGER_ROLL_UP_EVERY, default 256: after this many payments a container
   * authorizes, it folds hot accounts' pending credits into their balance
   * rows, so a balance read sums at most a few hundred of them per container. 0 turns it off.
   */
  rollUpEvery: number;
}

export function ledgerConfig(env: Env = process.env): LedgerConfig {
  return { rollUpEvery: readInt(env, "LEDGER_ROLL_UP_EVERY", 256, 0) };
}

export interface OutboxConfig {
  /** OUTBOX_BATCH_SIZE, default 1000: events claimed at once and sent in one Kafka request. */
  batchSize: number;
  /**
   * OUTBOX_MAX_REQUEST_BYTES, default 900000: a batch whose records add up to
   * more is sent as several requests, in order, so no partition's record
   * batch exceeds the topic's max.message.bytes (1 MiB by default).
   */
  maxRequestBytes: number;
  /**
   * OUTBOX_DRAIN_CONCURRENCY, default 2: batches one invocation keeps in
   * flight, so one batch's claim/mark overlaps another's send.
   */
  concurrency: number;
  /** OUTBOX_TIME_MARGIN_MS, default 10000: stop claiming when less Lambda time than this remains. */
  timeMarginMs: number;
  /** OUTBOX_MAX_ATTEMPTS, default 5: event-specific failures before the event is dead-lettered. */
  maxAttempts: number;
  /** OUTBOX_BACKOFF_BASE_MS, default 1000: first retry delay, doubled per attempt (with jitter). */
  backoffBaseMs: number;
  /** OUTBOX_BACKOFF_MAX_MS, default 300000 (5 min): ceiling of the retry delay. */
  backoffMaxMs: number;
  /**
   * OUTBOX_LEASE_MS, default 60000: how long a claim holds. A drain that dies
   * releases its events when this runs out; keep it above the Kafka timeouts.
   */
  leaseMs: number;
  /** OUTBOX_TOPIC_PREFIX, default "payments": topics are <prefix>.<event type lower-cased>. */
  topicPrefix: string;
  /** OUTBOX_DLQ_TOPIC, default "<prefix>.dlq": the dead-letter topic. */
  dlqTopic: string;
  /** DEAD_LETTER_FUNCTION_NAME, default "payment-ledger-dev-deadLetter": what drainOutbox invokes with a dead letter (serverless.ts sets it per stage). */
  deadLetterFunctionName: string;
  /** DRAIN_OUTBOX_FUNCTION_NAME, default "payment-ledger-dev-drainOutbox": the nudge's target (serverless.ts sets it per stage). */
  drainFunctionName: string;
  /** OUTBOX_NUDGE_ENABLED, default true: the api invokes drainOutbox after a payment commits. */
  nudgeEnabled: boolean;
  /**
   * OUTBOX_NUDGE_MIN_INTERVAL_MS, default 250: at most one nudge per interval,
   * per container and across all containers (a shared row in the database).
   */
  nudgeMinIntervalMs: number;
  /**
   * OUTBOX_NUDGE_TIMEOUT_MS, default 1000 (at most 5000, half the api's
   * timeout): how long a payment's answer may wait for its nudge (the shared
   * throttle, the async invoke and, the first time in a container, loading
   * the Lambda SDK), and never into the last LAMBDA_DEADLINE_MARGIN_MS of the
   * call's deadline. The nudge runs once the answer is decided and cannot
   * change it; past this time the answer goes out, the nudge carries on
   * unawaited (where Lambda freezes the sandbox it may not land) and the
   * schedule delivers regardless.
   */
  nudgeTimeoutMs: number;
  /**
   * OUTBOX_MAX_CONCURRENT_DRAINS, default 2: drains working at once, on every
   * runtime (advisory-lock slots in Postgres); a drain finding none free
   * returns at once. One drain keeps up; a second lets a nudge run beside a
   * scheduled run. Each holds a Postgres session and a Kafka producer.
   */
  maxConcurrentDrains: number;
  /**
   * OUTBOX_NUDGE_OUTAGE_PAUSE_MS, default 2000: no nudges for this long after
   * a drain found the broker unavailable (the schedule keeps probing; a drain
   * that publishes lifts the pause), so an outage does not pile up drains.
   */
  nudgeOutagePauseMs: number;
}

export function outboxConfig(env: Env = process.env): OutboxConfig {
  const topicPrefix = readString(env, "OUTBOX_TOPIC_PREFIX", "payments");
  const backoffBaseMs = readInt(env, "OUTBOX_BACKOFF_BASE_MS", 1000, 1);
  return {
    batchSize: readInt(env, "OUTBOX_BATCH_SIZE", 1000, 1, 10_000),
    maxRequestBytes: readInt(env, "OUTBOX_MAX_REQUEST_BYTES", 900_000, 1000),
    concurrency: readInt(env, "OUTBOX_DRAIN_CONCURRENCY", 2, 1, 16),
    timeMarginMs: readInt(env, "OUTBOX_TIME_MARGIN_MS", 10_000, 0),
    maxAttempts: readInt(env, "OUTBOX_MAX_ATTEMPTS", 5, 1),
    backoffBaseMs,
    backoffMaxMs: readInt(env, "OUTBOX_BACKOFF_MAX_MS", 300_000, backoffBaseMs),
    leaseMs: readInt(env, "OUTBOX_LEASE_MS", 60_000, 1000),
    topicPrefix,
    dlqTopic: readString(env, "OUTBOX_DLQ_TOPIC", `${topicPrefix}.dlq`),
    deadLetterFunctionName: readString(env, "DEAD_LETTER_FUNCTION_NAME", "payment-ledger-dev-deadLetter"),
    drainFunctionName: readString(env, "DRAIN_OUTBOX_FUNCTION_NAME", "payment-ledger-dev-drainOutbox"),
    nudgeEnabled: readBool(env, "OUTBOX_NUDGE_ENABLED", true),
    nudgeMinIntervalMs: readInt(env, "OUTBOX_NUDGE_MIN_INTERVAL_MS", 250, 0),
    nudgeTimeoutMs: readInt(env, "OUTBOX_NUDGE_TIMEOUT_MS", 1000, 1, 5000),
    maxConcurrentDrains: readInt(env, "OUTBOX_MAX_CONCURRENT_DRAINS", 2, 1, 1000),
    nudgeOutagePauseMs: readInt(env, "OUTBOX_NUDGE_OUTAGE_PAUSE_MS", 2000, 0),
  };
}

export interface RetentionConfig {
  /** OUTBOX_RETENTION, default 7d: published outbox events are deleted this long after publishing. */
  outboxMs: number;
  /**
   * INBOX_RETENTION, default 7d: a consumer's inbox rows are deleted this long
   * after processing. Keep it above the topics' retention: an older redelivery
   * could no longer be recognised as a duplicate.
   */
  inboxMs: number;
  /**
   * DEAD_LETTER_RETENTION, default 30d: a dead letter is deleted this long
   * after it was redriven. Dead letters never redriven are kept.
   */
  redrivenDeadLetterMs: number;
  /** RETENTION_BATCH_SIZE, default 5000: rows per DELETE, so no statement holds locks or WAL for long. */
  batchSize: number;
  /** RETENTION_MAX_BATCHES, default 200: DELETEs per table per run; the next run continues. */
  maxBatches: number;
}

export function retentionConfig(env: Env = process.env): RetentionConfig {
  return {
    outboxMs: readDurationMs(env, "OUTBOX_RETENTION", "7d"),
    inboxMs: readDurationMs(env, "INBOX_RETENTION", "7d"),
    redrivenDeadLetterMs: readDurationMs(env, "DEAD_LETTER_RETENTION", "30d"),
    batchSize: readInt(env, "RETENTION_BATCH_SIZE", 5000, 1, 100_000),
    maxBatches: readInt(env, "RETENTION_MAX_BATCHES", 200, 1),
  };
}

export interface LambdaClientConfig {
  /** AWS_REGION, default us-east-1: region of the Lambda invokes. */
  region: string;
  /**
   * LAMBDA_ENDPOINT, default none (the AWS endpoint): e.g. http://127.0.0.1:3002
   * for serverless-offline or http://localhost:4566 for LocalStack.
   */
  endpoint: string | undefined;
}

export function lambdaClientConfig(env: Env = process.env): LambdaClientConfig {
  const endpoint = readString(env, "LAMBDA_ENDPOINT", "");
  return { region: readString(env, "AWS_REGION", "us-east-1"), endpoint: endpoint || undefined };
}

export type KafkaSaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512";

export interface KafkaConfig {
  /** KAFKA_BROKERS, default 127.0.0.1:9092: comma-separated host:port. */
  brokers: string[];
  /** KAFKA_CLIENT_ID, default "payment-ledger": the client id the broker sees. */
  clientId: string;
  /** KAFKA_SSL, default false: true for MSK / Redpanda Cloud listeners with TLS. */
  ssl: boolean;
  /** KAFKA_SASL_MECHANISM, default none: plain | scram-sha-256 | scram-sha-512 (MSK SCRAM, Redpanda). */
  saslMechanism: KafkaSaslMechanism | undefined;
  /** KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD, default empty: SASL credentials; ignored when KAFKA_SASL_SECRET_ARN is set. */
  saslUsername: string;
  saslPassword: string;
  /**
   * KAFKA_SASL_SECRET_ARN, default none: read the SASL username and password from this
   * Secrets Manager secret ({"username", "password"}, the shape MSK requires) at run time.
   */
  saslSecret: SecretReference | undefined;
  /** KAFKA_CONNECTION_TIMEOUT_MS, default 3000: a down broker is noticed quickly. */
  connectionTimeoutMs: number;
  /** KAFKA_REQUEST_TIMEOUT_MS, default 10000: one request to the broker. */
  requestTimeoutMs: number;
  /** KAFKA_RETRIES, default 3: client retries of retriable errors before the drain gives up for this run. */
  retries: number;
  /** KAFKA_RETRY_INITIAL_MS, default 200: first client retry delay; KAFKA_RETRY_MAX_MS, default 2000: its ceiling. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** KAFKA_LOG_LEVEL, default "warn": nothing | error | warn | info | debug. */
  logLevel: "nothing" | "error" | "warn" | "info" | "debug";
}

const SASL_MECHANISMS = new Set<string>(["plain", "scram-sha-256", "scram-sha-512"]);
const KAFKA_LOG_LEVELS = new Set<string>(["nothing", "error", "warn", "info", "debug"]);

export function kafkaConfig(env: Env = process.env): KafkaConfig {
  const mechanism = readString(env, "KAFKA_SASL_MECHANISM", "").toLowerCase();
  if (mechanism !== "" && !SASL_MECHANISMS.has(mechanism)) {
    throw new ConfigError(`KAFKA_SASL_MECHANISM must be one of ${[...SASL_MECHANISMS].join(", ")}`);
  }
  const logLevel = readString(env, "KAFKA_LOG_LEVEL", "warn").toLowerCase();
  if (!KAFKA_LOG_LEVELS.has(logLevel)) {
    throw new ConfigError(`KAFKA_LOG_LEVEL must be one of ${[...KAFKA_LOG_LEVELS].join(", ")}`);
  }
  const retryInitialMs = readInt(env, "KAFKA_RETRY_INITIAL_MS", 200, 1);
  const saslSecret = readSecretReference(env, "KAFKA_SASL_SECRET_ARN");
  if (saslSecret && mechanism === "") {
    throw new ConfigError("KAFKA_SASL_SECRET_ARN needs KAFKA_SASL_MECHANISM");
  }
  return {
    brokers: readList(env, "KAFKA_BROKERS", ["127.0.0.1:9092"]),
    clientId: readString(env, "KAFKA_CLIENT_ID", "payment-ledger"),
    ssl: readBool(env, "KAFKA_SSL", false),
    saslMechanism: mechanism === "" ? undefined : (mechanism as KafkaSaslMechanism),
    saslUsername: readString(env, "KAFKA_SASL_USERNAME", ""),
    saslPassword: readString(env, "KAFKA_SASL_PASSWORD", ""),
    saslSecret,
    connectionTimeoutMs: readInt(env, "KAFKA_CONNECTION_TIMEOUT_MS", 3000, 1),
    requestTimeoutMs: readInt(env, "KAFKA_REQUEST_TIMEOUT_MS", 10_000, 1),
    retries: readInt(env, "KAFKA_RETRIES", 3, 0, 100),
    retryInitialMs,
    retryMaxMs: readInt(env, "KAFKA_RETRY_MAX_MS", 2000, retryInitialMs),
    logLevel: logLevel as KafkaConfig["logLevel"],
  };
}

export interface MigrationsConfig {
  /**
   * MIGRATIONS_DIR, default lib/db/migrations (beside lib/db/migrate.ts): a
   * relative path resolves against the working directory, which on Lambda is
   * the package root; the migrate bundle ships the SQL at lib/db/migrations.
   */
  dir: string | undefined;
  /**
   * SQL_FUNCTIONS_DIR, default lib/ledger/sql (beside the ledger store): the
   * ledger's CREATE OR REPLACE function files, applied after the migrations;
   * the migrate bundle ships them at lib/ledger/sql.
   */
  functionsDir: string | undefined;
}

export function migrationsConfig(env: Env = process.env): MigrationsConfig {
  const dir = readString(env, "MIGRATIONS_DIR", "");
  const functionsDir = readString(env, "SQL_FUNCTIONS_DIR", "");
  return { dir: dir || undefined, functionsDir: functionsDir || undefined };
}

export interface ApiConfig {
  /** MAX_REQUEST_BYTES, default 1048576 (1 MiB): larger request messages fail RESOURCE_EXHAUSTED unread. */
  maxRequestBytes: number;
  /**
   * CORS_ALLOWED_ORIGINS, default none (no cross-origin browser calls): comma-separated
   * origins such as https://app.example.com, or * for any origin (tokens are bearer
   * headers, never cookies, so a wildcard exposes no ambient credentials).
   */
  corsAllowedOrigins: string[];
  /** CORS_MAX_AGE_SECONDS, default 7200: how long browsers may cache a preflight answer. */
  corsMaxAgeSeconds: number;
  /** HEALTH_CHECK_TIMEOUT_MS, default 1000: Health/Check reports NOT_SERVING if Postgres is slower. */
  healthCheckTimeoutMs: number;
  /** LAMBDA_DEADLINE_MARGIN_MS, default 200: calls end DEADLINE_EXCEEDED this long before the Lambda times out. */
  deadlineMarginMs: number;
}

export function apiConfig(env: Env = process.env): ApiConfig {
  return {
    maxRequestBytes: readInt(env, "MAX_REQUEST_BYTES", 1_048_576, 64, 6 * 1_048_576),
    corsAllowedOrigins: readList(env, "CORS_ALLOWED_ORIGINS", []),
    corsMaxAgeSeconds: readInt(env, "CORS_MAX_AGE_SECONDS", 7200, 0, 86_400),
    healthCheckTimeoutMs: readInt(env, "HEALTH_CHECK_TIMEOUT_MS", 1000, 1),
    deadlineMarginMs: readInt(env, "LAMBDA_DEADLINE_MARGIN_MS", 200, 0),
  };
}

/** Signs local tokens only (npm run token); never set it as JWT_SECRET outside a developer machine. */
export const LOCAL_JWT_SECRET = "local-development-secret-not-for-production";

export interface AuthConfig {
  /**
   * JWT_JWKS_URL, default none: verify RS256/ES256/EdDSA tokens against this key set
   * (e.g. https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json).
   * When set, JWT_SECRET is ignored.
   */
  jwksUrl: string | undefined;
  /** JWT_SECRET, default LOCAL_JWT_SECRET: HS256 shared secret, used when no JWKS URL is set. */
  secret: string;
  /** True when neither JWT_JWKS_URL nor JWT_SECRET is set, so deployments can warn about it. */
  usingLocalSecret: boolean;
  /** JWT_ISSUER, default "payment-ledger-local": the required iss claim. */
  issuer: string;
  /** JWT_AUDIENCE, default "payment-ledger": the required aud claim. */
  audience: string;
  /** JWT_CLOCK_TOLERANCE_SECONDS, default 5: allowed clock skew for exp/nbf/iat (an iat further in the future is refused). */
  clockToleranceSeconds: number;
  /**
   * JWT_MAX_TOKEN_AGE_SECONDS, default none: when set, tokens must carry iat and
   * are refused once older than this, whatever their exp says.
   */
  maxTokenAgeSeconds: number | undefined;
  /**
   * JWT_OPERATOR_CLAIM, default "scope": the claim holding the caller's scopes or roles,
   * either a space-separated string (OAuth scope) or an array (roles, cognito:groups).
   */
  operatorClaim: string;
  /** OPERATOR_SCOPE, default "ledger:operator": the value in that claim that makes an operator. */
  operatorScope: string;
  /**
   * JWT_VERIFIED_CACHE_SIZE, default 1000: verified tokens remembered per container
   * (until each one's exp) so repeat calls skip signature checks; 0 disables.
   */
  verifiedTokenCacheSize: number;
}

export function authConfig(env: Env = process.env): AuthConfig {
  const jwksUrl = readString(env, "JWT_JWKS_URL", "");
  if (jwksUrl !== "" && !URL.canParse(jwksUrl))
    throw new ConfigError(`JWT_JWKS_URL is not a URL: "${jwksUrl}"`);
  const secret = readString(env, "JWT_SECRET", "");
  if (secret !== "" && secret.length < 32) throw new ConfigError("JWT_SECRET must be at least 32 characters");
  return {
    jwksUrl: jwksUrl || undefined,
    secret: secret || LOCAL_JWT_SECRET,
    usingLocalSecret: jwksUrl === "" && secret === "",
    issuer: readString(env, "JWT_ISSUER", "payment-ledger-local"),
    audience: readString(env, "JWT_AUDIENCE", "payment-ledger"),
    clockToleranceSeconds: readInt(env, "JWT_CLOCK_TOLERANCE_SECONDS", 5, 0, 300),
    maxTokenAgeSeconds: readInt(env, "JWT_MAX_TOKEN_AGE_SECONDS", 0, 0) || undefined,
    operatorClaim: readString(env, "JWT_OPERATOR_CLAIM", "scope"),
    operatorScope: readString(env, "OPERATOR_SCOPE", "ledger:operator"),
    verifiedTokenCacheSize: readInt(env, "JWT_VERIFIED_CACHE_SIZE", 1000, 0, 1_000_000),
  };
}

/** Signs local page tokens only; never set it as PAGE_TOKEN_SECRET outside a developer machine. */
export const LOCAL_PAGE_TOKEN_SECRET = "local-page-token-secret-not-for-production";

export interface PageTokenConfig {
  /**
   * PAGE_TOKEN_SECRET, default LOCAL_PAGE_TOKEN_SECRET: the HMAC key (at least 32
   * characters) that binds ListLedgerEntries' page tokens to their account and
   * caller; ignored when PAGE_TOKEN_SECRET_ARN is set. Every container of a stage
   * needs the same key; a token signed with another key is refused INVALID_ARGUMENT.
   */
  secret: string;
  /**
   * PAGE_TOKEN_SECRET_ARN, default none: read the key from this Secrets Manager
   * secret at run time instead (dev and prod: serverless.ts names it): the key as
   * the whole SecretString, or {"current": "…", "previous": "…"} to rotate without
   * ending listings in progress (new tokens use current; both are accepted).
   */
  secretRef: SecretReference | undefined;
  /** True when neither is set, so deployments can warn about it. */
  usingLocalSecret: boolean;
}

export function pageTokenConfig(env: Env = process.env): PageTokenConfig {
  const secret = readString(env, "PAGE_TOKEN_SECRET", "");
  if (secret !== "" && secret.length < 32) {
    throw new ConfigError("PAGE_TOKEN_SECRET must be at least 32 characters");
  }
  const secretRef = readSecretReference(env, "PAGE_TOKEN_SECRET_ARN");
  return {
    secret: secret || LOCAL_PAGE_TOKEN_SECRET,
    secretRef,
    usingLocalSecret: secret === "" && secretRef === undefined,
  };
}

export interface ObservabilityConfig {
  /** POWERTOOLS_METRICS_NAMESPACE, default PaymentLedger: the CloudWatch namespace of every metric. */
  namespace: string;
  /** The service dimension of every metric: POWERTOOLS_SERVICE_NAME (see the top of this file). */
  serviceName: string;
}

export function observabilityConfig(env: Env = process.env): ObservabilityConfig {
  return {
    namespace: readString(env, "POWERTOOLS_METRICS_NAMESPACE", "PaymentLedger"),
    serviceName: readString(env, "POWERTOOLS_SERVICE_NAME", "payment-ledger"),
  };
}

export interface TracingConfig {
  /**
   * XRAY_TRACING_ENABLED, default false: trace with AWS X-Ray (serverless.ts turns it
   * on, with Lambda's active tracing, on dev and prod). The api records a subsegment
   * per call; the drain writes each delivered event's publish into its payment's
   * trace. Off, the X-Ray SDK is never loaded.
   */
  enabled: boolean;
  /**
   * XRAY_PUBLISH_SEGMENTS_PER_BATCH, default 20: at most this many outbox.publish
   * segments per drained batch (for its first sampled events), so a batch of a
   * thousand sampled events cannot flood the X-Ray daemon. 0: none.
   */
  publishSegmentsPerBatch: number;
}

export function tracingConfig(env: Env = process.env): TracingConfig {
  return {
    enabled: readBool(env, "XRAY_TRACING_ENABLED", false),
    publishSegmentsPerBatch: readInt(env, "XRAY_PUBLISH_SEGMENTS_PER_BATCH", 20, 0, 10_000),
  };
}

export interface ConsumerConfig {
  /** CONSUMER_GROUP_ID, default "payment-ledger-sample": also the consumer's name in the inbox table. */
  groupId: string;
  /** CONSUMER_FROM_BEGINNING, default true: a new group starts at the oldest retained message. */
  fromBeginning: boolean;
}

export function consumerConfig(env: Env = process.env): ConsumerConfig {
  return {
    groupId: readString(env, "CONSUMER_GROUP_ID", "payment-ledger-sample"),
    fromBeginning: readBool(env, "CONSUMER_FROM_BEGINNING", true),
  };
}

export interface DevConfig {
  /**
   * DEV_SUMMARY_INTERVAL_MS, default 5000: how often `npm run dev` reads its
   * database for the one-line summary (payments/s, declines, pending, lag,
   * dead letters); a line is printed only when something moved. 0 turns it off.
   */
  summaryIntervalMs: number;
  /**
   * DEV_ALLOWED_HOSTS, default none: comma-separated host names (no port) the
   * local servers (web client dev server and event feed, serverless offline)
   * answer besides localhost, 127.0.0.1 and [::1]; any other Host gets 403,
   * so a page on a DNS-rebound name reaches none of them.
   */
  allowedHosts: string[];
}

/** Host names the local servers always answer to. */
export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

export function devConfig(env: Env = process.env): DevConfig {
  const extra = readList(env, "DEV_ALLOWED_HOSTS", []).map((host) => host.toLowerCase());
  const malformed = extra.find((host) => !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/.test(host));
  if (malformed !== undefined) {
    throw new ConfigError(`DEV_ALLOWED_HOSTS takes host names without port or scheme, got "${malformed}"`);
  }
  return {
    summaryIntervalMs: readInt(env, "DEV_SUMMARY_INTERVAL_MS", 5000, 0, 3_600_000),
    allowedHosts: [...new Set([...LOOPBACK_HOSTS, ...extra])],
  };
}
