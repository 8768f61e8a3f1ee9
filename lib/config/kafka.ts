/** The Kafka client of the functions that publish (drainOutbox, deadLetter) and of the tools. */
import {
  boolean,
  ConfigError,
  type ConfigOf,
  declare,
  type Env,
  integer,
  list,
  oneOf,
  type Reader,
  readAll,
  text,
} from "./declare.ts";
import { secretReference } from "./secrets.ts";

const READ_BY: readonly Reader[] = ["drainOutbox", "deadLetter", "scripts"];

export const KAFKA_SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512"] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

const KAFKA_SASL_MECHANISM = declare("KAFKA_SASL_MECHANISM", oneOf(KAFKA_SASL_MECHANISMS, true), {
  default: undefined,
  doc: "SASL mechanism (MSK SCRAM, Redpanda), in any case.",
  readBy: READ_BY,
});

const KAFKA_RETRY_INITIAL_MS = declare("KAFKA_RETRY_INITIAL_MS", integer(1), {
  default: 200,
  doc: "first client retry delay.",
  readBy: READ_BY,
});

export const KAFKA = {
  brokers: declare("KAFKA_BROKERS", list("127.0.0.1:9092"), {
    default: ["127.0.0.1:9092"],
    doc: "comma-separated host:port.",
    readBy: READ_BY,
  }),
  clientId: declare("KAFKA_CLIENT_ID", text(), {
    default: "payment-ledger",
    doc: "the client id the broker sees.",
    readBy: READ_BY,
  }),
  ssl: declare("KAFKA_SSL", boolean, {
    default: false,
    doc: "true for MSK / Redpanda Cloud listeners with TLS (and for the local broker).",
    readBy: READ_BY,
  }),
  sslCaFile: declare("KAFKA_SSL_CA_FILE", text(), {
    default: undefined,
    defaultText: "none (the system's trusted CAs)",
    doc:
      "a PEM file of the CA(s) to trust instead of the system's (which MSK's and Redpanda Cloud's " +
      "certificates chain to), for a broker whose certificate a private CA signed, such as the local " +
      "broker's (npm run dev sets it). A path the function can read. Needs KAFKA_SSL=true.",
    readBy: READ_BY,
  }),
  saslMechanism: KAFKA_SASL_MECHANISM,
  saslUsername: declare("KAFKA_SASL_USERNAME", text(), {
    default: "",
    doc: "SASL username; ignored when KAFKA_SASL_SECRET_ARN is set.",
    readBy: READ_BY,
  }),
  saslPassword: declare("KAFKA_SASL_PASSWORD", text(), {
    default: "",
    doc: "SASL password; ignored when KAFKA_SASL_SECRET_ARN is set.",
    readBy: READ_BY,
  }),
  saslSecret: declare("KAFKA_SASL_SECRET_ARN", secretReference, {
    default: undefined,
    doc:
      'read the SASL username and password from this Secrets Manager secret ({"username", "password"}, ' +
      "the shape MSK requires) at run time.",
    readBy: READ_BY,
    needs: KAFKA_SASL_MECHANISM,
  }),
  connectionTimeoutMs: declare("KAFKA_CONNECTION_TIMEOUT_MS", integer(1), {
    default: 3000,
    doc: "a down broker is noticed quickly.",
    readBy: READ_BY,
  }),
  requestTimeoutMs: declare("KAFKA_REQUEST_TIMEOUT_MS", integer(1), {
    default: 10_000,
    doc: "one request to the broker.",
    readBy: READ_BY,
  }),
  retries: declare("KAFKA_RETRIES", integer(0, 100), {
    default: 3,
    doc: "client retries of retriable errors before the drain gives up for this run.",
    readBy: READ_BY,
  }),
  retryInitialMs: KAFKA_RETRY_INITIAL_MS,
  retryMaxMs: declare("KAFKA_RETRY_MAX_MS", integer(KAFKA_RETRY_INITIAL_MS), {
    default: 2000,
    doc: "ceiling of the client retry delay.",
    readBy: READ_BY,
  }),
  logLevel: declare("KAFKA_LOG_LEVEL", oneOf(["nothing", "error", "warn", "info", "debug"], true), {
    default: "warn",
    doc: "kafkajs's log level.",
    readBy: READ_BY,
  }),
};

export type KafkaConfig = ConfigOf<typeof KAFKA>;

export function kafkaConfig(env: Env): KafkaConfig {
  const config = readAll(env, KAFKA);
  // A CA without TLS would be silently ignored: the connection would be plaintext.
  if (config.sslCaFile !== undefined && !config.ssl)
    throw new ConfigError("KAFKA_SSL_CA_FILE needs KAFKA_SSL=true");
  return config;
}

/** The topics `npm run topics` makes (the deploy's topics step); read by that tool only. */
export const TOPICS = {
  partitions: declare("KAFKA_TOPIC_PARTITIONS", integer(1, 10_000), {
    default: 3,
    doc:
      "partitions of each topic npm run topics creates (3, as the replaced system's topics). More lets more " +
      "consumers of one group work in parallel; an aggregate's events share one partition either way.",
    readBy: ["scripts"],
  }),
  replicationFactor: declare("KAFKA_TOPIC_REPLICATION_FACTOR", integer(1, 32), {
    default: 3,
    doc:
      "copies of each partition, one per broker (MSK and Redpanda Cloud spread them over three zones). " +
      "The local one-broker cluster takes 1 (npm run dev sets it).",
    readBy: ["scripts"],
  }),
  minInsyncReplicas: declare("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", integer(1, 32), {
    default: 2,
    doc:
      "a write with acks=all (the drain's) succeeds only once this many replicas have it, so an acknowledged " +
      "event survives the loss of a broker. At most the replication factor. Redpanda has no such setting: " +
      "acks=all waits for a majority of the replicas there.",
    readBy: ["scripts"],
  }),
};

export type TopicsConfig = ConfigOf<typeof TOPICS>;

export function topicsConfig(env: Env): TopicsConfig {
  const config = readAll(env, TOPICS);
  // Even a default: acks=all could then never be satisfied.
  if (config.minInsyncReplicas > config.replicationFactor) {
    throw new ConfigError(
      `KAFKA_TOPIC_MIN_INSYNC_REPLICAS (${config.minInsyncReplicas}) is more than KAFKA_TOPIC_REPLICATION_FACTOR (${config.replicationFactor})`,
    );
  }
  return config;
}
