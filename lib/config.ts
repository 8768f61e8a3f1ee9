/**
 * Every setting, read from the environment the caller passes (handlers pass
 * process.env, once per container; nothing here reads it on its own). A
 * malformed value fails loudly at start-up (ConfigError) instead of being ignored.
 *
 * Each setting is declared once, in lib/config/<concern>.ts: name, parser and
 * bounds, default, documentation, who reads it and who sets it
 * (lib/config/declare.ts says how). The readers below, docs/configuration.md
 * and the settings the local stage forwards (infra/stages.ts) derive from it.
 *
 * Adding a setting is one edit: a `declare(...)` in its concern's group
 * (e.g. a field of OUTBOX in lib/config/outbox.ts), which adds it to that
 * group's config object; a setting of a new group also goes into CONCERNS
 * (lib/config/catalogue.ts). Then run `npm run docs:config`. The unit tests
 * (config-*.test.ts) fail while the reference is stale, while a function reads
 * a setting its declaration does not name, or while code reads a variable
 * that has no declaration.
 */

export {
  type ApiConfig,
  apiConfig,
  LOCAL_PAGE_TOKEN_SECRET,
  type PageTokenConfig,
  pageTokenConfig,
} from "./config/api.ts";
export { type AuthConfig, authConfig, LOCAL_JWT_SECRET } from "./config/auth.ts";
export {
  type LambdaClientConfig,
  type LambdaRuntimeConfig,
  lambdaClientConfig,
  lambdaRuntimeConfig,
} from "./config/aws.ts";
export {
  type DatabaseConfig,
  databaseConfig,
  type MigrationDatabaseConfig,
  type MigrationsConfig,
  migrationDatabaseConfig,
  migrationsConfig,
} from "./config/database.ts";
export { ConfigError, type Env } from "./config/declare.ts";
export {
  type KafkaConfig,
  type KafkaSaslMechanism,
  kafkaConfig,
  type TopicsConfig,
  topicsConfig,
} from "./config/kafka.ts";
export {
  type ObservabilityConfig,
  observabilityConfig,
  serviceName,
  type TracingConfig,
  tracingConfig,
} from "./config/observability.ts";
export { type OutboxConfig, outboxConfig } from "./config/outbox.ts";
export {
  DEFAULT_HOLD_MAX_MS,
  DEFAULT_PAYMENT_MIN_TIME_MS,
  type LedgerConfig,
  ledgerConfig,
  type PaymentsConfig,
  paymentsConfig,
} from "./config/payments.ts";
export { type RetentionConfig, retentionConfig } from "./config/retention.ts";
export type { SecretReference } from "./config/secrets.ts";
export {
  type ConsumerConfig,
  consumerConfig,
  type DevConfig,
  devConfig,
  LOOPBACK_HOSTS,
} from "./config/tools.ts";
