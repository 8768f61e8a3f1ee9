/**
 * Two of bench:drain's cases: the producer raw sendBatch uses, and the floor
 * an outbox drain cannot go below on this schema.
 *
 * The floor does only what the outbox itself requires of every batch, with
 * none of the drain's code (lib/outbox/drain.ts, batch.ts, prepare.ts): claim
 * a batch with the repository's claim statement (a lease, per-aggregate
 * runs), build each row's message as the contract puts it on the wire, one
 * sendBatch on the raw case's producer, and mark the batch with the
 * repository's mark statement. One batch at a time; no validation, no lease
 * renewal, no pipelining, no dead letters or retries, no metrics or traces.
 */
import type { Kafka, Producer } from "kafkajs";
import type { Pool } from "../lib/db/pool.ts";
import type { LedgerEvent } from "../lib/events/contract.ts";
import { toEnvelope } from "../lib/events/envelope.ts";
import { newId } from "../lib/ids.ts";
import { eventMessage } from "../lib/kafka/messages.ts";
import { keyHashPartitioner } from "../lib/kafka/partitioner.ts";
import { toTopicMessages } from "../lib/kafka/publisher.ts";
import { OutboxRepository } from "../lib/outbox/outbox-repository.ts";
import { fillOutbox } from "./outbox-fill.ts";
import type { CpuMeter, CpuSample } from "./process-cpu.ts";

export interface Measured {
  ms: number;
  perSecond: number;
  cpu: CpuSample;
}

/** Configured like the drain's publisher: idempotent, one request in flight, the same partitioner. */
export function benchProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: keyHashPartitioner });
}

export interface FloorOptions {
  /** The bench's pool, for filling the outbox. */
  pool: Pool;
  /** The pool the claim and mark go through (the drain's). */
  drainPool: Pool;
  kafka: Kafka;
  topicPrefix: string;
  events: number;
  batchSize: number;
  leaseMs: number;
  cpu: CpuMeter;
}

/**
 * Each measure() fills the outbox with `events` events and drains it as the
 * floor above does. Warmed on its first measure() on three batches, as raw
 * sendBatch and the drain are.
 */
export function outboxFloor(options: FloorOptions): {
  measure(): Promise<Measured>;
  close(): Promise<void>;
} {
  const { pool, events, batchSize, leaseMs, cpu } = options;
  const repository = new OutboxRepository(options.drainPool);
  const producer = benchProducer(options.kafka);

  async function drainAll(): Promise<number> {
    let published = 0;
    for (;;) {
      const now = new Date();
      const claimed = await repository.claim(
        `floor/${newId()}`,
        batchSize,
        now,
        new Date(now.getTime() + leaseMs),
      );
      if (claimed.length === 0) return published;
      // Unchecked, as the floor leaves validation out: the bench writes only valid rows, each with its trace.
      const messages = claimed.map((event) =>
        eventMessage(options.topicPrefix, toEnvelope(event) as LedgerEvent, event.traceparent ?? ""),
      );
      await producer.sendBatch({ acks: -1, topicMessages: toTopicMessages(messages) });
      published += await repository.markPublished(
        claimed.map((event) => event.seq),
        new Date(),
      );
    }
  }

  let warm: Promise<unknown> | undefined;
  return {
    async measure() {
      warm ??= producer.connect().then(async () => {
        await fillOutbox(pool, 3 * batchSize);
        await drainAll();
      });
      await warm;
      console.error(`filling the outbox with ${events} events…`);
      await fillOutbox(pool, events);
      const cpuFrom = cpu.sample();
      const started = performance.now();
      const published = await drainAll();
      const ms = performance.now() - started;
      const cpuPerEvent = cpu.perEvent(cpuFrom, events);
      if (published !== events) throw new Error(`floor published ${published} of ${events}`);
      console.error(`floor: ${events} in ${(ms / 1000).toFixed(2)} s`);
      return { ms, perSecond: (events / ms) * 1000, cpu: cpuPerEvent };
    },
    async close() {
      await warm?.catch(() => undefined);
      await producer.disconnect();
    },
  };
}
