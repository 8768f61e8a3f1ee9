/**
 * Commit→Kafka as a consumer sees it: each payment event's envelope timestamp
 * (stamped by Postgres inside the payment's transaction) to the time the
 * broker appended it (the soak's topics use LogAppendTime). Same machine,
 * same clock; events written before the watch began are left out.
 */
import { randomBytes } from "node:crypto";
import type { Kafka } from "kafkajs";
import type { EventEnvelope } from "../../lib/events/gen/contract.ts";
import { eventTopics } from "../../lib/kafka/messages.ts";

export interface LatencyWatch {
  /** The latencies (ms) of the events appended since the last call. */
  take(): number[];
  stop(): Promise<void>;
}

export async function watchLatency(kafka: Kafka, prefix: string): Promise<LatencyWatch> {
  const since = Date.now();
  const consumer = kafka.consumer({ groupId: `soak-latency-${randomBytes(4).toString("hex")}` });
  await consumer.connect();
  await consumer.subscribe({
    topics: eventTopics(prefix),
    fromBeginning: true,
  });
  let latencies: number[] = [];
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        const envelope = JSON.parse(message.value?.toString() ?? "{}") as Partial<EventEnvelope>;
        const occurredAt = Date.parse(envelope.timestamp ?? "");
        if (occurredAt >= since) latencies.push(Number(message.timestamp) - occurredAt);
      }
    },
  });
  return {
    take() {
      const taken = latencies;
      latencies = [];
      return taken;
    },
    stop: () => consumer.disconnect(),
  };
}
