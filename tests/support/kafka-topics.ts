import { randomBytes, randomUUID } from "node:crypto";
import { type IHeaders, Kafka, type KafkaConfig, logLevel } from "kafkajs";
import { inject } from "vitest";

/** The run's shared broker (tests/support/global-setup.ts). */
export function sharedBrokers(): string[] {
  return inject("kafkaBrokers").split(",");
}

/** A topic prefix no other test file uses, so files never see each other's messages. */
export function uniqueTopicPrefix(): string {
  return `t${randomBytes(4).toString("hex")}.payments`;
}

export function testKafka(brokers: string[], overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({ clientId: "ledger-test", brokers, logLevel: logLevel.NOTHING, ...overrides });
}

/** Answers a broker gives for a partition it has not finished taking on. */
const NOT_READY = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION"]);

/**
 * Creates the topics and waits until the broker serves every partition.
 * Not kafkajs' waitForLeaders: a KRaft broker takes a new topic on after
 * CreateTopics has answered, so on a loaded machine metadata can still say
 * UNKNOWN_TOPIC_OR_PARTITION (which waitForLeaders does not retry), or name a
 * leader that answers NOT_LEADER_FOR_PARTITION for a moment. Ready means
 * every partition's leader answers a ListOffsets.
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
      waitForLeaders: false,
      topics: topics.map((topic) => ({
        topic,
        numPartitions: options.partitions ?? 3,
        ...(options.configEntries ? { configEntries: options.configEntries } : {}),
      })),
    });
    const deadline = Date.now() + 60_000;
    const pending = new Set(topics);
    for (;;) {
      for (const topic of [...pending]) {
        const ready = await admin.fetchTopicOffsets(topic).then(
          (partitions) => partitions.length > 0,
          (error: { type?: string }) => {
            if (error.type && NOT_READY.has(error.type)) return false;
            throw error;
          },
        );
        if (ready) pending.delete(topic);
      }
      if (pending.size === 0) return;
      if (Date.now() > deadline) throw new Error(`topics ${[...pending].join(", ")} not served after 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
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
