import {
  Kafka,
  type KafkaConfig as KafkaJsConfig,
  type logCreator,
  logLevel,
  type Producer,
  type ProducerConfig,
  type SASLOptions,
} from "kafkajs";
import {
  CachedSecret,
  jsonSecretField,
  parseJsonSecret,
  type SecretSource,
  SecretsManagerSource,
  withSecret,
} from "../aws/secrets.ts";
import type { KafkaConfig } from "../config.ts";
import type { Log } from "../logging.ts";

const LEVELS: Record<KafkaConfig["logLevel"], logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

function sasl(config: KafkaConfig): SASLOptions | undefined {
  if (!config.saslMechanism) return undefined;
  const credentials = { username: config.saslUsername, password: config.saslPassword };
  switch (config.saslMechanism) {
    case "plain":
      return { mechanism: "plain", ...credentials };
    case "scram-sha-256":
      return { mechanism: "scram-sha-256", ...credentials };
    case "scram-sha-512":
      return { mechanism: "scram-sha-512", ...credentials };
  }
}

function toLogCreator(sink: Log): logCreator {
  return () =>
    ({ level, log }) => {
      const { message, ...rest } = log;
      const attributes = { kafka: rest };
      if (level === logLevel.ERROR) sink.error(message, attributes);
      else if (level === logLevel.WARN) sink.warn(message, attributes);
      else if (level === logLevel.INFO) sink.info(message, attributes);
      else sink.debug(message, attributes);
    };
}

/** A kafkajs client for the settings; create one per container and reuse it. */
/** kafkajs' own log lines go to `sink` (the function's logger in Lambda). */
export function createKafka(config: KafkaConfig, sink?: Log): Kafka {
  const options: KafkaJsConfig = {
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    retry: {
      retries: config.retries,
      initialRetryTime: config.retryInitialMs,
      maxRetryTime: config.retryMaxMs,
    },
    logLevel: LEVELS[config.logLevel],
  };
  const mechanism = sasl(config);
  if (mechanism) options.sasl = mechanism;
  if (sink) options.logCreator = toLogCreator(sink);
  return new Kafka(options);
}

/** Connected producers, built from the current credentials. */
export interface ProducerSource {
  connectProducer(options: ProducerConfig): Promise<Producer>;
}

export interface SaslCredentials {
  username: string;
  password: string;
}

/** A SASL secret: `{"username", "password"}` (the shape MSK's SCRAM secrets must have). */
export function saslCredentialsFromSecret(secretString: string): SaslCredentials {
  const secret = parseJsonSecret(secretString);
  return { username: jsonSecretField(secret, "username"), password: jsonSecretField(secret, "password") };
}

/** True when a broker refused the SASL login: the one error fresher credentials can fix. */
export function isSaslAuthenticationFailure(error: unknown): boolean {
  let current: unknown = error;
  // kafkajs wraps errors (retries, non-retriable); chains can be cyclic, so bounded.
  for (let depth = 0; typeof current === "object" && current !== null && depth < 10; depth += 1) {
    const { name, type, cause, originalError } = current as Record<string, unknown>;
    if (name === "KafkaJSSASLAuthenticationError" || type === "SASL_AUTHENTICATION_FAILED") return true;
    current = cause ?? originalError;
  }
  return false;
}

async function connectProducer(kafka: Kafka, options: ProducerConfig): Promise<Producer> {
  const producer = kafka.producer(options);
  try {
    await producer.connect();
  } catch (error) {
    await producer.disconnect().catch(() => undefined);
    throw error;
  }
  return producer;
}

/**
 * Producers for the settings. With KAFKA_SASL_SECRET_ARN the credentials come
 * from Secrets Manager (cached for the TTL); kafkajs takes them only when a
 * client is built, so a client is rebuilt whenever they change, and a producer
 * the brokers refuse (rotated password) is retried once with a fresh fetch.
 */
export function kafkaProducers(config: KafkaConfig, sink?: Log, secrets?: SecretSource): ProducerSource {
  if (!config.saslSecret) {
    const kafka = createKafka(config, sink);
    return { connectProducer: (options) => connectProducer(kafka, options) };
  }
  const secret = new CachedSecret({
    source: secrets ?? new SecretsManagerSource(),
    secretId: config.saslSecret.id,
    parse: saslCredentialsFromSecret,
    ttlMs: config.saslSecret.ttlMs,
  });
  let client: { credentials: SaslCredentials; kafka: Kafka } | undefined;
  const kafkaFor = (credentials: SaslCredentials): Kafka => {
    if (
      client?.credentials.username !== credentials.username ||
      client.credentials.password !== credentials.password
    ) {
      client = {
        credentials,
        kafka: createKafka(
          { ...config, saslUsername: credentials.username, saslPassword: credentials.password },
          sink,
        ),
      };
    }
    return client.kafka;
  };
  return {
    connectProducer: (options) =>
      withSecret(
        secret,
        (credentials) => connectProducer(kafkaFor(credentials), options),
        isSaslAuthenticationFailure,
      ),
  };
}
