/**
 * The dev stage rehearsed in a host-mode LocalStack: LocalStack's settings that point the dev
 * stage's parameters and secrets at this machine's services (localstack/init/ready.d seeds them),
 * so `localstack/deploy.sh dev` deploys the dev stage's own template, unchanged, against them.
 *
 * What the dev template says about Kafka stays as it is (TLS trusting the system's CAs,
 * SCRAM-SHA-256 with the credentials of its secret). Two things make the local broker fit it,
 * both properties of this machine, not of the product:
 *   - the local broker takes SCRAM-SHA-256 logins too, and the dev stage's secret holds such a
 *     login on its SASL_SSL listener;
 *   - the machine trusts the broker's CA as a machine with that CA in its trust store would:
 *     the node-process executor hands every function process NODE_EXTRA_CA_CERTS
 *     (LAMBDA_NODE_EXTRA_CA_CERTS, localstack/executor).
 */
import { stageSettings } from "../../infra/stages.ts";
import type { KafkaClientEnv } from "./kafka/client-env.ts";

export interface DevStageServices {
  /** The functions' database: through the transaction-mode pooler, as RDS Proxy in AWS. */
  databaseUrl: string;
  /** migrate's: Postgres itself. */
  migrationUrl: string;
  /** How a client of this machine reaches the broker: its listener, its CA, a login. */
  kafkaEnv: KafkaClientEnv;
  /** The dev stage's token issuer's key set (JWT_JWKS_URL), when something calls its api. */
  jwksUrl?: string | undefined;
}

/** LocalStack's environment (host mode) for a dev stage that runs against `services`. */
export function devStageRehearsalEnv(services: DevStageServices): Record<string, string> {
  const { kafkaEnv } = services;
  return {
    DEV_DATABASE_URL: services.databaseUrl,
    DEV_MIGRATION_DATABASE_URL: services.migrationUrl,
    DEV_KAFKA_BROKERS: kafkaEnv.KAFKA_BROKERS ?? "",
    // The same user: the local broker keeps a SCRAM-SHA-256 credential beside its SHA-512 one.
    ...(kafkaEnv.KAFKA_SASL_USERNAME && { DEV_KAFKA_USERNAME: kafkaEnv.KAFKA_SASL_USERNAME }),
    ...(kafkaEnv.KAFKA_SASL_PASSWORD && { DEV_KAFKA_PASSWORD: kafkaEnv.KAFKA_SASL_PASSWORD }),
    ...(services.jwksUrl && { DEV_JWT_JWKS_URL: services.jwksUrl }),
    ...(kafkaEnv.KAFKA_SSL_CA_FILE && { LAMBDA_NODE_EXTRA_CA_CERTS: kafkaEnv.KAFKA_SSL_CA_FILE }),
  };
}

/**
 * How a client logs in as the dev stage's functions do: the same listener, CA and login, with
 * the mechanism the dev template names (SCRAM-SHA-256).
 */
export function devStageKafkaEnv(kafkaEnv: KafkaClientEnv): KafkaClientEnv {
  const mechanism = stageSettings("dev", {}).kafkaEnvironment.KAFKA_SASL_MECHANISM;
  if (!mechanism) throw new Error("the dev stage names no Kafka SASL mechanism");
  return { ...kafkaEnv, KAFKA_SASL_MECHANISM: mechanism };
}
