import { describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/config.ts";
import { NotFoundError } from "../../lib/errors.ts";
import { explainFailure } from "../../scripts/support/cli.ts";

function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });
}

describe("operator scripts explain a missing service in one line", () => {
  it("names Postgres and the variable that points at it", () => {
    expect(explainFailure("migrate", socketError("ECONNREFUSED"), ["postgres"], {})).toBe(
      "migrate: cannot reach Postgres at the default DATABASE_URL (127.0.0.1:5432): set DATABASE_URL to a reachable Postgres (npm run dev prints an export line for its own)",
    );
    expect(
      explainFailure("migrate", socketError("ENOTFOUND"), ["postgres"], { DATABASE_URL: "x" }),
    ).toContain("cannot reach Postgres at DATABASE_URL:");
  });

  it("names Kafka for kafkajs connection errors, even when Postgres is also needed", () => {
    const kafka = Object.assign(new Error("Connection error: connect ECONNREFUSED 127.0.0.1:1"), {
      name: "KafkaJSNumberOfRetriesExceeded",
    });
    expect(explainFailure("consume", kafka, ["postgres", "kafka"], { KAFKA_BROKERS: "127.0.0.1:1" })).toBe(
      "consume: cannot reach Kafka at KAFKA_BROKERS=127.0.0.1:1: set KAFKA_BROKERS to a reachable Kafka broker (npm run dev prints an export line for its own)",
    );
  });

  it("says when Kafka's certificate is not trusted or its login refused, not that Kafka is unreachable", () => {
    const untrusted = Object.assign(
      new Error("Connection error: self-signed certificate in certificate chain"),
      {
        name: "KafkaJSConnectionError",
        code: "SELF_SIGNED_CERT_IN_CHAIN",
      },
    );
    const wrapped = Object.assign(new Error("retries exceeded"), {
      name: "KafkaJSNumberOfRetriesExceeded",
      cause: untrusted,
    });
    expect(explainFailure("topics", wrapped, ["kafka"], {})).toBe(
      "topics: Kafka's TLS certificate is not trusted (SELF_SIGNED_CERT_IN_CHAIN): set KAFKA_SSL_CA_FILE to the CA that signed it (npm run dev exports its own)",
    );
    const refused = Object.assign(new Error("SASL SCRAM SHA512 authentication failed"), {
      name: "KafkaJSSASLAuthenticationError",
    });
    expect(explainFailure("consume", refused, ["postgres", "kafka"], {})).toMatch(
      /^consume: Kafka refused the SASL login: check KAFKA_SASL_MECHANISM/,
    );
  });

  it("shows a bad setting or a refused request as its message, and leaves bugs alone", () => {
    expect(explainFailure("redrive", new ConfigError("DB_POOL_MAX must be …"), ["postgres"], {})).toBe(
      "redrive: DB_POOL_MAX must be …",
    );
    expect(explainFailure("redrive", new NotFoundError("dead letter", "01X"), ["postgres"], {})).toBe(
      "redrive: NOT_FOUND: dead letter 01X not found",
    );
    expect(explainFailure("redrive", new TypeError("oops"), ["postgres"], {})).toBeUndefined();
  });
});
