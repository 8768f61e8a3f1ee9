/**
 * The one way an operator script fails: one line saying what is missing and
 * how to get it, never a driver's stack trace. Anything not recognised is a
 * bug and is rethrown with its stack.
 */
import { ConfigError, type Env } from "../../lib/config.ts";
import { isUnavailable } from "../../lib/db/errors.ts";
import { ServiceError } from "../../lib/errors.ts";

export type Service = "postgres" | "kafka";

const HOW_TO_GET: Record<Service, string> = {
  postgres: "set DATABASE_URL to a reachable Postgres (npm run dev prints an export line for its own)",
  kafka: "set KAFKA_BROKERS to a reachable Kafka broker (npm run dev prints an export line for its own)",
};

function isKafkaUnreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 10; depth += 1) {
    const like = e as { name?: unknown; code?: unknown; cause?: unknown; originalError?: unknown };
    if (
      typeof like.name === "string" &&
      like.name.startsWith("KafkaJS") &&
      /connect|broker/i.test(String((e as Error).message))
    )
      return true;
    if (like.name === "KafkaJSConnectionError" || like.name === "KafkaJSBrokerNotFound") return true;
    if (like.code === "ECONNREFUSED" || like.code === "ENOTFOUND") return true;
    e = like.cause ?? like.originalError;
  }
  return false;
}

/** What a failed script prints, or undefined when the error is a bug. */
export function explainFailure(
  name: string,
  error: unknown,
  services: readonly Service[],
  env: Env,
): string | undefined {
  if (error instanceof ConfigError) return `${name}: ${error.message}`;
  if (error instanceof ServiceError && error.code !== "UNAVAILABLE") {
    return `${name}: ${error.code}: ${error.message}`;
  }
  // kafkajs errors first: their messages also say "connect ECONNREFUSED".
  if (services.includes("kafka") && isKafkaUnreachable(error)) {
    const where = env.KAFKA_BROKERS ? `KAFKA_BROKERS=${env.KAFKA_BROKERS}` : "the default 127.0.0.1:9092";
    return `${name}: cannot reach Kafka at ${where}: ${HOW_TO_GET.kafka}`;
  }
  if (services.includes("postgres") && (isUnavailable(error) || error instanceof ServiceError)) {
    const where = env.DATABASE_URL ? "DATABASE_URL" : "the default DATABASE_URL (127.0.0.1:5432)";
    return `${name}: cannot reach Postgres at ${where}: ${HOW_TO_GET.postgres}`;
  }
  return undefined;
}

/** Runs a script's main; a known failure ends it with one line and exit code 1. */
export async function runCli(
  name: string,
  services: readonly Service[],
  main: () => Promise<void>,
): Promise<void> {
  try {
    await main();
  } catch (error) {
    const line = explainFailure(name, error, services, process.env);
    if (line === undefined) throw error;
    console.error(line);
    process.exitCode = 1;
  }
}
