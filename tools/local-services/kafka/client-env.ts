/**
 * What a client of a broker sets to reach it, in the names lib/config.ts
 * reads (KAFKA_BROKERS, KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SASL_*): the one
 * description of a broker that the functions (through serverless offline or
 * LocalStack), `npm run dev`'s env file, the scripts and the tests all take.
 */
import type { ScramCredentials, ScramMechanism } from "./scram.ts";

export type KafkaClientEnv = Readonly<Record<string, string>>;

/** The application's login on a broker started here (its password is made per start). */
export const APPLICATION_USER = "payment-ledger";

/**
 * The settings lib/config.ts reads to reach a broker, and the topic settings
 * that fit its cluster (a one-broker cluster holds one replica): nothing else
 * is taken from a shell.
 */
export const KAFKA_CLIENT_SETTINGS = [
  "KAFKA_BROKERS",
  "KAFKA_SSL",
  "KAFKA_SSL_CA_FILE",
  "KAFKA_SASL_MECHANISM",
  "KAFKA_SASL_USERNAME",
  "KAFKA_SASL_PASSWORD",
  "KAFKA_SASL_SECRET_ARN",
  "KAFKA_TOPIC_PARTITIONS",
  "KAFKA_TOPIC_REPLICATION_FACTOR",
  "KAFKA_TOPIC_MIN_INSYNC_REPLICAS",
] as const;

export interface ScramTlsClient {
  brokers: readonly string[];
  /** The CA that signed the broker's certificate; undefined: the system's trusted CAs. */
  caFile: string | undefined;
  mechanism: ScramMechanism;
  credentials: ScramCredentials;
  /**
   * Brokers in the cluster: with fewer than three, topics get as many
   * replicas as there are brokers (npm run topics), and min.insync.replicas 1.
   */
  brokerCount: number;
}

/** A SASL_SSL listener taking SCRAM logins, as MSK and Redpanda Cloud run. */
export function scramTlsClientEnv(client: ScramTlsClient): KafkaClientEnv {
  const replicas = Math.min(client.brokerCount, 3);
  return {
    KAFKA_BROKERS: client.brokers.join(","),
    KAFKA_SSL: "true",
    ...(client.caFile !== undefined && { KAFKA_SSL_CA_FILE: client.caFile }),
    KAFKA_SASL_MECHANISM: client.mechanism.toLowerCase(),
    KAFKA_SASL_USERNAME: client.credentials.username,
    KAFKA_SASL_PASSWORD: client.credentials.password,
    ...(replicas < 3 && {
      KAFKA_TOPIC_REPLICATION_FACTOR: String(replicas),
      KAFKA_TOPIC_MIN_INSYNC_REPLICAS: "1",
    }),
  };
}

/** The client settings of `env` (a shell's), as given: a broker someone else runs. */
export function clientEnvFrom(env: Record<string, string | undefined>): KafkaClientEnv {
  return Object.fromEntries(
    KAFKA_CLIENT_SETTINGS.flatMap((name) => {
      const value = env[name];
      return value ? [[name, value]] : [];
    }),
  );
}

/** `env` with every name prefixed, for a script that takes its settings as e.g. LOCALSTACK_KAFKA_BROKERS. */
export function prefixed(prefix: string, env: KafkaClientEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [`${prefix}${name}`, value]));
}
