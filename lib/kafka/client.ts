import { readFileSync } from "node:fs";
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
import { ConfigError, type KafkaConfig } from "../config.ts";
import { UnavailableError } from "../errors.ts";
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

/**
 * TLS as the settings ask: none, the system's trusted CAs, or only the CA of
 * KAFKA_SSL_CA_FILE. Never without verifying the broker's certificate.
 */
function tls(config: KafkaConfig): KafkaJsConfig["ssl"] {
  if (!config.ssl) return false;
  if (config.sslCaFile === undefined) return true;
  let ca: string;
  try {
    ca = readFileSync(config.sslCaFile, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`KAFKA_SSL_CA_FILE: cannot read ${config.sslCaFile} (${reason})`);
  }
  return { ca: [ca] };
}

/** kafkajs' options for the settings (TLS, SASL, timeouts, retries, log level). */
export function kafkajsConfig(config: KafkaConfig, sink?: Log): KafkaJsConfig {
  const options: KafkaJsConfig = {
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: tls(config),
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
  return options;
}

/** A kafkajs client for the settings; create one per container and reuse it. */
/** kafkajs' own log lines go to `sink` (the function's logger in Lambda). */
export function createKafka(config: KafkaConfig, sink?: Log): Kafka {
  return new Kafka(kafkajsConfig(config, sink));
}

/**
 * A client for a one-off operator command (npm run topics, status, consume):
 * with KAFKA_SASL_SECRET_ARN the login is read from the secret once.
 */
export async function operatorKafka(config: KafkaConfig, secrets?: SecretSource): Promise<Kafka> {
  if (!config.saslSecret) return createKafka(config);
  const source = secrets ?? new SecretsManagerSource();
  const credentials = saslCredentialsFromSecret(await source.getSecretString(config.saslSecret.id));
  return createKafka({ ...config, saslUsername: credentials.username, saslPassword: credentials.password });
}

/** Connected producers, built from the current credentials. */
export interface ProducerSource {
  connectProducer(options: ProducerConfig): Promise<Producer>;
  /**
   * Runs one publish: connecting and sending, since a connected producer logs
   * in again whenever a connection drops (broker restart, idle timeout). When
   * the brokers refuse the SASL credentials and they come from a secret, the
   * secret is fetched once more and the publish run once more; a second
   * refusal is a KafkaCredentialsRejectedError. Never more than that.
   */
  withCredentials<R>(publish: () => Promise<R>): Promise<R>;
  /** Which of `topics` the cluster does not list (to this login): asked after an unknown-topic error. */
  missingTopics(topics: readonly string[]): Promise<string[]>;
}

/**
 * The brokers refused the SASL login, also after the secret was read again
 * (or could not be): a wrong secret, or a rotation half done. UNAVAILABLE:
 * nothing the caller sent is at fault, and the drain backs off without
 * spending an event's attempts.
 */
export class KafkaCredentialsRejectedError extends UnavailableError {
  constructor(secretId: string, cause: unknown) {
    // Names the secret, never its content.
    super(`the Kafka brokers refused the SASL login with the credentials from secret ${secretId}`, cause);
    this.name = "KafkaCredentialsRejectedError";
  }
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

async function missingTopics(kafka: Kafka, topics: readonly string[]): Promise<string[]> {
  const admin = kafka.admin();
  try {
    // Inside the try: an admin whose connect failed is disconnected too, as connectProducer does.
    await admin.connect();
    const listed = new Set(await admin.listTopics());
    return topics.filter((topic) => !listed.has(topic));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Producers of one kafkajs client: fixed credentials, so a refused login is final. */
export function clientProducers(kafka: Kafka): ProducerSource {
  return {
    connectProducer: (options) => connectProducer(kafka, options),
    withCredentials: (publish) => publish(),
    missingTopics: (topics) => missingTopics(kafka, topics),
  };
}

/**
 * Producers for the settings. With KAFKA_SASL_SECRET_ARN the credentials come
 * from Secrets Manager (cached for the TTL); kafkajs takes them only when a
 * client is built, so a client is rebuilt whenever they change, and a publish
 * the brokers refuse (rotated password) is run once more after a fresh fetch.
 */
export function kafkaProducers(config: KafkaConfig, sink?: Log, secrets?: SecretSource): ProducerSource {
  if (!config.saslSecret) return clientProducers(createKafka(config, sink));
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
    // After a refusal withCredentials has refreshed the cache, so this builds a client with the fresh value.
    connectProducer: async (options) => connectProducer(kafkaFor(await secret.get()), options),
    missingTopics: async (topics) => missingTopics(kafkaFor(await secret.get()), topics),
    withCredentials: async (publish) => {
      try {
        return await withSecret(secret, publish, isSaslAuthenticationFailure);
      } catch (error) {
        if (isSaslAuthenticationFailure(error))
          throw new KafkaCredentialsRejectedError(secret.secretId, error);
        throw error;
      }
    },
  };
}
