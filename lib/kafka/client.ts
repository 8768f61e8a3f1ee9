import {
  Kafka,
  type KafkaConfig as KafkaJsConfig,
  type logCreator,
  logLevel,
  type SASLOptions,
} from "kafkajs";
import type { KafkaConfig } from "../config.ts";
import type { Log } from "../logging.ts";

/** @deprecated Use Log from lib/logging.ts; kept so lib/outbox compiles until it adopts it. */
export type KafkaLogSink = Log;

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
