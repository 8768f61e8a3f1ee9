import { randomUUID } from "node:crypto";
import { type Kafka, type KafkaConfig, logLevel, Partitioners, type Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { protocolErrorType } from "../../lib/kafka/errors.ts";
import { type KafkaHandle, provideKafka } from "../../tools/local-services/kafka.ts";
import { createTopics, testKafka } from "../support/kafka-topics.ts";
import { listenerPid } from "../support/listener-pid.ts";

// First run downloads ~46 MB of jars with Maven before the JVM starts.
const STARTUP_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 120_000;
const PARTITIONS = 3;

interface Received {
  key: string;
  value: string;
  partition: number;
}

let kafka: KafkaHandle | undefined;

function broker(): KafkaHandle {
  if (!kafka) throw new Error("broker not started");
  return kafka;
}

/** A client as the functions build one from the broker's settings. */
function client(overrides: Partial<KafkaConfig> = {}): Kafka {
  return testKafka(broker().env, { clientId: "kafka-broker-test", logLevel: logLevel.WARN, ...overrides });
}

function idempotentProducer(kafkaClient: Kafka): Producer {
  return kafkaClient.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

async function createTopic(name: string): Promise<void> {
  await createTopics(client(), [name], { partitions: PARTITIONS });
}

/** Reads `topic` from the beginning with a fresh consumer group until `count` messages arrived. */
async function consume(topic: string, count: number, timeoutMs = 60_000): Promise<Received[]> {
  const consumer = client().consumer({ groupId: `kafka-broker-test-${randomUUID()}` });
  const received: Received[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolveDone, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`consumed ${received.length}/${count} messages within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ message, partition }) => {
            received.push({
              key: message.key?.toString() ?? "",
              value: message.value?.toString() ?? "",
              partition,
            });
            if (received.length >= count) {
              clearTimeout(timer);
              resolveDone();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

describe("provideKafka broker", () => {
  beforeAll(async () => {
    kafka = await provideKafka();
  }, STARTUP_TIMEOUT_MS);

  afterAll(async () => {
    await kafka?.stop();
  }, 60_000);

  it(
    "round-trips 100 keyed messages from an idempotent producer, in order per key",
    async () => {
      const topic = `ledger-roundtrip-${randomUUID()}`;
      await createTopic(topic);
      const keys = ["acct-a", "acct-b", "acct-c", "acct-d", "acct-e"];
      const sent = Array.from({ length: 100 }, (_, i) => ({
        key: keys[i % keys.length] ?? "",
        value: String(i),
      }));

      const producer = idempotentProducer(client());
      await producer.connect();
      try {
        for (let offset = 0; offset < sent.length; offset += 10) {
          await producer.send({ topic, acks: -1, messages: sent.slice(offset, offset + 10) });
        }
      } finally {
        await producer.disconnect();
      }

      const received = await consume(topic, sent.length);
      expect(received).toHaveLength(sent.length);
      for (const key of keys) {
        const forKey = received.filter((message) => message.key === key);
        const expected = sent.filter((message) => message.key === key).map((message) => message.value);
        // Kafka only orders within a partition; one key must map to one partition.
        expect(forKey.map((message) => message.value)).toEqual(expected);
        expect(new Set(forKey.map((message) => message.partition)).size).toBe(1);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "creates no topic by itself: a send to an unknown topic fails naming UNKNOWN_TOPIC_OR_PARTITION, and no topic appears",
    async () => {
      const topic = `ledger-never-created-${randomUUID()}`;
      // The client asks for auto-creation (kafkajs' default): only the broker can refuse.
      const quick = client({ logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 100 } });
      const producer = quick.producer({ allowAutoTopicCreation: true });
      await producer.connect();
      try {
        const error = await producer.send({ topic, acks: -1, messages: [{ key: "k", value: "v" }] }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(protocolErrorType(error)).toBe("UNKNOWN_TOPIC_OR_PARTITION");
      } finally {
        await producer.disconnect();
      }
      const admin = quick.admin();
      await admin.connect();
      try {
        expect(await admin.listTopics()).not.toContain(topic);
      } finally {
        await admin.disconnect();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "takes clients only over TLS, trusting its CA, logged in with SCRAM",
    async (ctx) => {
      if (broker().source === "env") {
        console.log("skipped: KAFKA_BROKERS names a broker this run did not start; its listener is its own");
        ctx.skip();
      }
      const refused = async (overrides: Partial<KafkaConfig>) => {
        const admin = client({
          logLevel: logLevel.NOTHING,
          connectionTimeout: 2_000,
          retry: { retries: 0 },
          ...overrides,
        }).admin();
        try {
          await admin.connect();
          await admin.listTopics();
          return "connected";
        } catch (error) {
          return error instanceof Error ? error.name : String(error);
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      };
      const env = broker().env;
      expect(env).toMatchObject({ KAFKA_SSL: "true", KAFKA_SASL_MECHANISM: "scram-sha-512" });
      // The settings as given connect.
      expect(await refused({})).toBe("connected");
      // Plaintext: the listener speaks TLS only.
      expect(await refused({ ssl: false })).not.toBe("connected");
      // TLS trusting only the system's CAs: the broker's certificate is the local CA's.
      expect(await refused({ ssl: true })).not.toBe("connected");
      // TLS without a login.
      expect(await refused({ sasl: undefined })).not.toBe("connected");
      // A wrong password.
      expect(
        await refused({
          sasl: { mechanism: "scram-sha-512", username: env.KAFKA_SASL_USERNAME ?? "", password: "wrong" },
        }),
      ).toBe("KafkaJSSASLAuthenticationError");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "fails sends while the broker is paused and recovers with its data after resume",
    async (ctx) => {
      if (broker().source !== "local") ctx.skip();
      const topic = `ledger-outage-${randomUUID()}`;
      await createTopic(topic);
      // Short timeouts so the outage surfaces in seconds instead of kafkajs' default ~30 s of retries.
      const producer = idempotentProducer(
        client({
          logLevel: logLevel.NOTHING,
          connectionTimeout: 1_000,
          requestTimeout: 2_000,
          retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
        }),
      );
      await producer.connect();
      try {
        await producer.send({ topic, acks: -1, messages: [{ key: "acct-a", value: "before" }] });

        await broker().pause();
        await expect(
          producer.send({ topic, acks: -1, messages: [{ key: "acct-a", value: "during" }] }),
        ).rejects.toThrow();

        await broker().resume();
        await producer.send({ topic, acks: -1, messages: [{ key: "acct-a", value: "after" }] });
      } finally {
        await producer.disconnect();
      }

      const received = await consume(topic, 2);
      expect(received.map((message) => message.value)).toEqual(["before", "after"]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "reports a broker that dies on its own (pause was not a death), with why and its log",
    async (ctx) => {
      const { died } = broker();
      if (!died) {
        console.log(`skipped: the broker comes from ${broker().source}, not a process this test started`);
        ctx.skip();
        return;
      }
      const port = Number(broker().brokers[0]?.split(":")[1]);
      process.kill(listenerPid(port), "SIGKILL");
      const reason = await died;
      expect(reason).toMatch(/^java exited with SIGKILL\n/);
      expect(reason).toContain("server.log");
    },
    TEST_TIMEOUT_MS,
  );
});
