import { describe, expect, it } from "vitest";
import { ConfigError, kafkaConfig, outboxConfig } from "../../lib/config.ts";
import { eventMessage, topicFor } from "../../lib/kafka/messages.ts";
import { toTopicMessages } from "../../lib/kafka/publisher.ts";

describe("outboxConfig", () => {
  it("has documented defaults", () => {
    expect(outboxConfig({})).toEqual({
      batchSize: 1_000,
      maxRequestBytes: 900_000,
      concurrency: 2,
      timeMarginMs: 10_000,
      maxAttempts: 5,
      backoffBaseMs: 1_000,
      backoffMaxMs: 300_000,
      leaseMs: 60_000,
      topicPrefix: "payments",
      dlqTopic: "payments.dlq",
      deadLetterFunctionName: "payment-ledger-dev-deadLetter",
      drainFunctionName: "payment-ledger-dev-drainOutbox",
      nudgeEnabled: true,
      nudgeMinIntervalMs: 250,
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
});

describe("messages", () => {
  it("names topics <prefix>.<event type lower-cased>", () => {
    expect(topicFor("payments", "PaymentAuthorized")).toBe("payments.paymentauthorized");
    expect(topicFor("payments", "PaymentDeclined")).toBe("payments.paymentdeclined");
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
        event_type: "PaymentDeclined",
        schema: "payment_declined",
        aggregate_type: "payment",
        aggregate_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T3",
        occurred_at: "2024-11-28T12:00:00.000Z",
        version: 1,
        payload: {},
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
