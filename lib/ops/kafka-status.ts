/**
 * End offsets of the payment topics and how far a consumer group is behind
 * them, read through the Kafka admin API (no message is consumed).
 */
import type { Kafka } from "kafkajs";

export interface TopicStatus {
  topic: string;
  exists: boolean;
  /** Sum over partitions of the high watermark: messages ever written (while retained). */
  endOffset: number;
  /** Messages the group has not committed yet (all retained ones when it never committed). */
  groupLag: number;
  partitions: { partition: number; endOffset: number; committed: number | null; lag: number }[];
}

export interface KafkaStatus {
  groupId: string;
  topics: TopicStatus[];
  totalLag: number;
}

export async function kafkaStatus(kafka: Kafka, topics: string[], groupId: string): Promise<KafkaStatus> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    const committed = present.length ? await admin.fetchOffsets({ groupId, topics: present }) : [];
    const result: TopicStatus[] = [];
    for (const topic of topics) {
      if (!existing.has(topic)) {
        result.push({ topic, exists: false, endOffset: 0, groupLag: 0, partitions: [] });
        continue;
      }
      const ends = await admin.fetchTopicOffsets(topic);
      const group = committed.find((c) => c.topic === topic);
      const partitions = ends
        .map((end) => {
          const high = Number(end.high);
          const low = Number(end.low);
          const raw = group?.partitions.find((p) => p.partition === end.partition)?.offset;
          // kafkajs reports "-1" for a partition the group never committed.
          const at = raw === undefined || raw === "-1" ? null : Number(raw);
          return { partition: end.partition, endOffset: high, committed: at, lag: high - (at ?? low) };
        })
        .sort((a, b) => a.partition - b.partition);
      result.push({
        topic,
        exists: true,
        endOffset: partitions.reduce((sum, p) => sum + p.endOffset, 0),
        groupLag: partitions.reduce((sum, p) => sum + p.lag, 0),
        partitions,
      });
    }
    return { groupId, topics: result, totalLag: result.reduce((sum, t) => sum + t.groupLag, 0) };
  } finally {
    await admin.disconnect();
  }
}
