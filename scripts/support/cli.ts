/**
 * The one way an operator script fails: one line saying what is missing and
 * how to get it, never a driver's stack trace. Anything not recognised is a
 * bug and is rethrown with its stack.
 */
import { ConfigError, type Env } from "../../lib/config.ts";
import { isUnavailable } from "../../lib/db/errors.ts";
import { ServiceError } from "../../lib/errors.ts";
import { isSaslAuthenticationFailure } from "../../lib/kafka/client.ts";
import { TopicProvisioningError } from "../../lib/kafka/topic-provisioning.ts";

export type Service = "postgres" | "kafka";

const HOW_TO_GET: Record<Service, string> = {
  postgres: "set DATABASE_URL to a reachable Postgres (npm run dev prints an export line for its own)",
  kafka: "set KAFKA_BROKERS to a reachable Kafka broker (npm run dev prints an export line for its own)",
};

// Node's codes for a certificate chain that does not lead to a trusted CA, or names another host.
const UNTRUSTED_CERTIFICATE =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_\w+|ERR_TLS_CERT_ALTNAME_INVALID)$/;

function tlsCertificateCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 10; depth += 1) {
    const like = e as { code?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof like.code === "string" && UNTRUSTED_CERTIFICATE.test(like.code)) return like.code;
    e = like.cause ?? like.originalError;
  }
  return undefined;
}

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
  if (error instanceof TopicProvisioningError) return `${name}: ${error.message}`;
  if (services.includes("kafka")) {
    const certificate = tlsCertificateCode(error);
    if (certificate) {
      return `${name}: Kafka's TLS certificate is not trusted (${certificate}): set KAFKA_SSL_CA_FILE to the CA that signed it (npm run dev exports its own)`;
    }
    if (isSaslAuthenticationFailure(error)) {
      return `${name}: Kafka refused the SASL login: check KAFKA_SASL_MECHANISM and KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD (or the secret KAFKA_SASL_SECRET_ARN names)`;
    }
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
