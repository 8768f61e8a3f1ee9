/**
 * The Kafka side of secret rotation, as pure logic: which errors mean "the
 * brokers refused these SASL credentials" (kafkajs' own error classes, however
 * wrapped), and the one-refetch-one-retry rule that kafkaProducers applies to
 * a publish refused with them. The rule is the same function the Postgres pool
 * uses; tests/integration/kafka-sasl-rotation.test.ts drives it against a real
 * broker that takes SCRAM logins.
 */
import {
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSSASLAuthenticationError,
} from "kafkajs";
import { describe, expect, it } from "vitest";
import { CachedSecret, withSecret } from "../../lib/aws/secrets.ts";
import { kafkaConfig } from "../../lib/config.ts";
import {
  isSaslAuthenticationFailure,
  type SaslCredentials,
  saslCredentialsFromSecret,
} from "../../lib/kafka/client.ts";
import { InProcessSecretStore } from "../support/secret-store.ts";

// As kafkajs' retrier wraps a failure (its typings omit the options argument the code takes).
type Wrapping = new (error: Error, options: { cause: Error }) => Error;
const nonRetriable = (error: Error) =>
  new (KafkaJSNonRetriableError as unknown as Wrapping)(error, { cause: error });
const saslError = (message: string) =>
  new (KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error)(message);
const retriesExceeded = (error: Error) =>
  new (KafkaJSNumberOfRetriesExceeded as unknown as Wrapping)(error, { cause: error });

describe("isSaslAuthenticationFailure", () => {
  it("recognises kafkajs' SASL error, also inside its retry and non-retriable wrappers", () => {
    const sasl = saslError("SASL SCRAM SHA512 authentication failed");
    expect(isSaslAuthenticationFailure(sasl)).toBe(true);
    expect(isSaslAuthenticationFailure(nonRetriable(sasl))).toBe(true);
    expect(isSaslAuthenticationFailure(retriesExceeded(nonRetriable(sasl)))).toBe(true);
  });

  it("does not take outages or other errors for a credentials problem", () => {
    expect(isSaslAuthenticationFailure(nonRetriable(new Error("connect ECONNREFUSED")))).toBe(false);
    expect(
      isSaslAuthenticationFailure({ name: "KafkaJSProtocolError", type: "TOPIC_AUTHORIZATION_FAILED" }),
    ).toBe(false);
    const cyclic: { name: string; cause?: unknown } = { name: "Error" };
    cyclic.cause = cyclic;
    expect(isSaslAuthenticationFailure(cyclic)).toBe(false);
  });
});

describe("SASL credentials from a secret", () => {
  it("reads {username, password} and needs a mechanism to be configured", () => {
    expect(saslCredentialsFromSecret('{"username":"ledger","password":"pw"}')).toEqual({
      username: "ledger",
      password: "pw",
    });
    expect(() => saslCredentialsFromSecret('{"username":"ledger"}')).toThrow(/password/);
    expect(() => kafkaConfig({ KAFKA_SASL_SECRET_ARN: "payment-ledger/dev/kafka" })).toThrow(
      /KAFKA_SASL_MECHANISM/,
    );
    expect(
      kafkaConfig({
        KAFKA_SASL_SECRET_ARN: "payment-ledger/dev/kafka",
        KAFKA_SASL_MECHANISM: "scram-sha-512",
      }).saslSecret,
    ).toEqual({ id: "payment-ledger/dev/kafka", ttlMs: 300_000 });
  });

  it("after a SASL rejection, connects once more with freshly fetched credentials, and only once", async () => {
    const store = new InProcessSecretStore();
    const id = "payment-ledger/test/kafka";
    await store.put(id, '{"username":"ledger","password":"old"}');
    const secret = new CachedSecret({
      source: store,
      secretId: id,
      parse: saslCredentialsFromSecret,
      ttlMs: 3_600_000,
    });
    let brokerPassword = "old";
    const connects: string[] = [];
    const connect = async (credentials: SaslCredentials) => {
      connects.push(credentials.password);
      if (credentials.password !== brokerPassword) {
        throw nonRetriable(saslError("authentication failed"));
      }
      return "connected";
    };

    expect(await withSecret(secret, connect, isSaslAuthenticationFailure)).toBe("connected");
    // Rotated on the brokers and in the secret.
    brokerPassword = "new";
    await store.put(id, '{"username":"ledger","password":"new"}');
    expect(await withSecret(secret, connect, isSaslAuthenticationFailure)).toBe("connected");
    expect(connects).toEqual(["old", "old", "new"]);
    expect(store.reads(id)).toBe(2);

    // Brokers changed again but the secret did not: one refetch, one retry, then the rejection.
    brokerPassword = "newer";
    await expect(withSecret(secret, connect, isSaslAuthenticationFailure)).rejects.toBeInstanceOf(
      KafkaJSNonRetriableError,
    );
    expect(connects).toEqual(["old", "old", "new", "new", "new"]);
    expect(store.reads(id)).toBe(3);

    // Errors that are not about credentials are not retried at all.
    const outage = () => Promise.reject(new Error("connect ECONNREFUSED"));
    await expect(withSecret(secret, outage, isSaslAuthenticationFailure)).rejects.toThrow("ECONNREFUSED");
    expect(store.reads(id)).toBe(3);
  });
});
