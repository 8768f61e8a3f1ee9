import { randomBytes, randomUUID } from "node:crypto";
import { type IHeaders, Kafka, type KafkaConfig, logLevel } from "kafkajs";
import { inject } from "vitest";
import { kafkaConfig } from "../../lib/config.ts";
import { kafkajsConfig } from "../../lib/kafka/client.ts";
import { waitForLeaders } from "../../lib/kafka/topic-provisioning.ts";
import { ensureLedgerTopics } from "../../lib/ops/topics.ts";
import type { KafkaClientEnv } from "../../tools/local-services/kafka.ts";

/**
 * How to reach the run's shared broker (tests/support/global-setup.ts): the
 * settings a function would get (KAFKA_BROKERS, KAFKA_SSL, KAFKA_SSL_CA_FILE,
 * KAFKA_SASL_*). A broker started here is SASL_SSL, as managed Kafka is.
 */
export function sharedKafkaEnv(): KafkaClientEnv {
  return JSON.parse(inject("kafkaEnv")) as KafkaClientEnv;
}

export function brokersOf(env: KafkaClientEnv): string[] {
  return (env.KAFKA_BROKERS ?? "").split(",").filter(Boolean);
}

/** A topic prefix no other test file uses, so files never see each other's messages. */
export function uniqueTopicPrefix(): string {
  return `t${randomBytes(4).toString("hex")}.payments`;
}

/** A client of the broker `env` describes, through the same settings code as the functions. */
export function testKafka(env: KafkaClientEnv, overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    ...kafkajsConfig(kafkaConfig(env)),
    clientId: "ledger-test",
    logLevel: logLevel.NOTHING,
    ...overrides,
  });
}

/**
 * The topics step of a deploy (npm run topics), for the topic prefix
 * `prefix`: every topic the system writes, made with the broker's settings.
 */
export async function createLedgerTopics(env: KafkaClientEnv, prefix: string): Promise<void> {
  const result = await ensureLedgerTopics({ ...env, OUTBOX_TOPIC_PREFIX: prefix });
  if (!result.ok) throw new Error(`topics differ from the settings:\n${result.lines.join("\n")}`);
}

/**
 * Creates the topics and waits until the broker serves every partition
 * (lib/kafka/topic-provisioning.ts' waitForLeaders, as npm run topics does).
 */
export async function createTopics(
  kafka: Kafka,
  topics: string[],
  options: { partitions?: number; configEntries?: { name: string; value: string }[] } = {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      // kafkajs' own wait gives up on a broker that does not know the new topic yet.
      waitForLeaders: false,
      topics: topics.map((topic) => ({
        topic,
        numPartitions: options.partitions ?? 3,
        ...(options.configEntries ? { configEntries: options.configEntries } : {}),
      })),
    });
    await waitForLeaders(admin, topics);
  } finally {
    await admin.disconnect();
  }
}

export interface ReceivedMessage {
  topic: string;
  partition: number;
  offset: bigint;
  key: string;
  value: string;
  headers: Record<string, string>;
}

function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(",") : value.toString();
  }
  return out;
}

/**
 * Everything on `topics` right now: reads with a fresh consumer group from
 * the beginning up to each partition's high watermark, so the result is
 * complete (no waiting for "probably no more" messages).
 */
export async function readTopics(
  kafka: Kafka,
  topics: string[],
  timeoutMs = 60_000,
): Promise<ReceivedMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<string, bigint>();
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of topics.filter((t) => existing.has(t))) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const count = BigInt(p.high) - BigInt(p.low);
        if (count > 0n) remaining.set(`${topic}/${p.partition}`, BigInt(p.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  const received: ReceivedMessage[] = [];
  if (remaining.size === 0) return received;

  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({
      topics: [...new Set([...remaining.keys()].map((k) => k.split("/")[0] as string))],
      fromBeginning: true,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `read ${received.length} messages; partitions not finished: ${[...remaining.keys()].join(", ")}`,
            ),
          ),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ topic, partition, message }) => {
            const offset = BigInt(message.offset);
            const slot = `${topic}/${partition}`;
            const high = remaining.get(slot);
            if (high === undefined || offset >= high) return;
            received.push({
              topic,
              partition,
              offset,
              key: message.key?.toString() ?? "",
              value: message.value?.toString() ?? "",
              headers: headerStrings(message.headers),
            });
            if (offset + 1n >= high) remaining.delete(slot);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return received.sort((a, b) =>
    a.topic === b.topic
      ? a.partition === b.partition
        ? Number(a.offset - b.offset)
        : a.partition - b.partition
      : a.topic < b.topic
        ? -1
        : 1,
  );
}
