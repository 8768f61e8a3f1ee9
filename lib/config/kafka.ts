/** The Kafka client of the functions that publish (drainOutbox, deadLetter) and of the tools. */
import {
  boolean,
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
    doc: "true for MSK / Redpanda Cloud listeners with TLS.",
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
  return readAll(env, KAFKA);
}
