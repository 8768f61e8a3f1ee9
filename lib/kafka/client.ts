import {
  Kafka,
  type KafkaConfig as KafkaJsConfig,
  type logCreator,
  logLevel,
  type SASLOptions,
} from "kafkajs";
import type { KafkaConfig } from "../config.ts";

/** Where kafkajs' own log lines go (the powertools logger in Lambda). */
export interface KafkaLogSink {
  error(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  debug(message: string, ...attributes: Record<string, unknown>[]): void;
}

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

function toLogCreator(sink: KafkaLogSink): logCreator {
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
export function createKafka(config: KafkaConfig, sink?: KafkaLogSink): Kafka {
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
