import { describe, expect, it } from "vitest";
import { ConfigError, kafkaConfig, outboxConfig, topicsConfig } from "../../lib/config.ts";
import { EVENT_TYPES } from "../../lib/events/contract.ts";
import { eventMessage, ledgerTopics, topicFor } from "../../lib/kafka/messages.ts";
import { toTopicMessages } from "../../lib/kafka/publisher.ts";

describe("outboxConfig", () => {
  it("has documented defaults", () => {
    expect(outboxConfig({})).toEqual({
      batchSize: 1_000,
      maxRequestBytes: 900_000,
      concurrency: 3,
      timeMarginMs: 10_000,
      maxAttempts: 5,
      backoffBaseMs: 1_000,
      backoffMaxMs: 300_000,
      leaseMs: 60_000,
      topicPrefix: "payments",
      dlqTopic: "payments.dlq",
      missingTopicRetryMs: 60_000,
      deadLetterFunctionName: "payment-ledger-dev-deadLetter",
      drainFunctionName: "payment-ledger-dev-drainOutbox",
      nudgeEnabled: true,
      nudgeMinIntervalMs: 250,
      pollIntervalMs: 20,
      nudgeTimeoutMs: 1_000,
      maxConcurrentDrains: 2,
      drainSlotLeaseMs: 30_000,
      nudgeOutagePauseMs: 2_000,
    });
  });

  it("derives the DLQ from the prefix unless set", () => {
    expect(outboxConfig({ OUTBOX_TOPIC_PREFIX: "t1.payments" }).dlqTopic).toBe("t1.payments.dlq");
    expect(outboxConfig({ OUTBOX_DLQ_TOPIC: "dead" }).dlqTopic).toBe("dead");
  });

  it("refuses values that cannot work", () => {
    expect(() => outboxConfig({ OUTBOX_BATCH_SIZE: "0" })).toThrow(ConfigError);
    expect(() => outboxConfig({ OUTBOX_BACKOFF_BASE_MS: "5000", OUTBOX_BACKOFF_MAX_MS: "1000" })).toThrow(
      /OUTBOX_BACKOFF_MAX_MS/,
    );
    expect(() => outboxConfig({ OUTBOX_NUDGE_ENABLED: "yes" })).toThrow(/OUTBOX_NUDGE_ENABLED/);
    // A nudge may not take the api's whole 10 s: the payment would answer DEADLINE_EXCEEDED.
    expect(() => outboxConfig({ OUTBOX_NUDGE_TIMEOUT_MS: "0" })).toThrow(/OUTBOX_NUDGE_TIMEOUT_MS/);
    expect(() => outboxConfig({ OUTBOX_NUDGE_TIMEOUT_MS: "10000" })).toThrow(/OUTBOX_NUDGE_TIMEOUT_MS/);
  });
});

describe("kafkaConfig", () => {
  it("has documented defaults", () => {
    expect(kafkaConfig({})).toMatchObject({
      brokers: ["127.0.0.1:9092"],
      clientId: "payment-ledger",
      ssl: false,
      sslCaFile: undefined,
      saslMechanism: undefined,
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 10_000,
      retries: 3,
      logLevel: "warn",
    });
  });

  it("reads a managed cluster's TLS and SASL settings", () => {
    const config = kafkaConfig({
      KAFKA_BROKERS: "b-1.msk:9096, b-2.msk:9096",
      KAFKA_SSL: "true",
      KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
      KAFKA_SASL_USERNAME: "ledger",
      KAFKA_SASL_PASSWORD: "secret",
    });
    expect(config).toMatchObject({
      brokers: ["b-1.msk:9096", "b-2.msk:9096"],
      ssl: true,
      saslMechanism: "scram-sha-512",
      saslUsername: "ledger",
    });
  });

  it("refuses an unknown SASL mechanism or log level", () => {
    expect(() => kafkaConfig({ KAFKA_SASL_MECHANISM: "gssapi" })).toThrow(/KAFKA_SASL_MECHANISM/);
    expect(() => kafkaConfig({ KAFKA_LOG_LEVEL: "loud" })).toThrow(/KAFKA_LOG_LEVEL/);
  });

  it("trusts a CA file only over TLS: a CA without KAFKA_SSL would silently mean plaintext", () => {
    expect(kafkaConfig({ KAFKA_SSL: "true", KAFKA_SSL_CA_FILE: "/etc/kafka-tls/ca.pem" }).sslCaFile).toBe(
      "/etc/kafka-tls/ca.pem",
    );
    expect(() => kafkaConfig({ KAFKA_SSL_CA_FILE: "/etc/kafka-tls/ca.pem" })).toThrow(
      "KAFKA_SSL_CA_FILE needs KAFKA_SSL=true",
    );
  });
});

describe("topicsConfig", () => {
  it("has documented defaults: three partitions, three replicas, two in sync", () => {
    expect(topicsConfig({})).toEqual({ partitions: 3, replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it("takes a one-broker cluster's settings, and refuses more in-sync replicas than replicas", () => {
    expect(
      topicsConfig({ KAFKA_TOPIC_REPLICATION_FACTOR: "1", KAFKA_TOPIC_MIN_INSYNC_REPLICAS: "1" }),
    ).toMatchObject({ replicationFactor: 1, minInsyncReplicas: 1 });
    expect(() => topicsConfig({ KAFKA_TOPIC_REPLICATION_FACTOR: "1" })).toThrow(
      "KAFKA_TOPIC_MIN_INSYNC_REPLICAS (2) is more than KAFKA_TOPIC_REPLICATION_FACTOR (1)",
    );
    expect(() => topicsConfig({ KAFKA_TOPIC_PARTITIONS: "0" })).toThrow(/KAFKA_TOPIC_PARTITIONS/);
  });
});

describe("messages", () => {
  it("names topics <prefix>.<event type lower-cased>", () => {
    expect(topicFor("payments", "PaymentAuthorized")).toBe("payments.paymentauthorized");
    expect(topicFor("payments", "PaymentDeclined")).toBe("payments.paymentdeclined");
  });

  it("lists every topic the system writes: one per event type, named as the drain names it, and the DLQ", () => {
    const outbox = outboxConfig({ OUTBOX_TOPIC_PREFIX: "t1.payments" });
    expect(ledgerTopics(outbox)).toEqual([
      ...EVENT_TYPES.map((type) => topicFor("t1.payments", type)),
      "t1.payments.dlq",
    ]);
    expect(ledgerTopics(outboxConfig({}))).toEqual([
      "payments.paymentauthorized",
      "payments.paymentcaptured",
      "payments.paymentdeclined",
      "payments.paymentexpired",
      "payments.paymentheld",
      "payments.paymentrefunddeclined",
      "payments.paymentrefunded",
      "payments.paymentvoided",
      "payments.dlq",
    ]);
  });

  it("groups messages by topic keeping their order", () => {
    const message = (topic: string, key: string) => ({ topic, key, value: key, headers: {} });
    expect(
      toTopicMessages([message("a", "1"), message("b", "2"), message("a", "3")]).map((t) => ({
        topic: t.topic,
        keys: t.messages.map((m) => m.key),
      })),
    ).toEqual([
      { topic: "a", keys: ["1", "3"] },
      { topic: "b", keys: ["2"] },
    ]);
  });

  it("keys an event by its aggregate and names it in the headers", () => {
    const message = eventMessage(
      "payments",
      {
        event_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T2",
        aggregate_type: "Payment",
        aggregate_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T3",
        event_type: "PaymentDeclined",
        payload: {
          payment_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T3",
          payer_account_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T4",
          payee_account_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T5",
          amount_cents: 100,
          currency: "EUR",
          error_code: "INSUFFICIENT_FUNDS",
          error_message: "payer account has insufficient funds",
        },
        timestamp: "2024-11-28T12:00:00.000Z",
      },
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    expect(message).toMatchObject({
      topic: "payments.paymentdeclined",
      key: "01JDQ7K3J8Z5X9V2M4N6P8R0T3",
      headers: {
        event_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T2",
        event_type: "PaymentDeclined",
        schema: "payment_declined",
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      },
    });
  });
});
