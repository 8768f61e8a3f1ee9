/**
 * Do several drains scale out? bench:drain's fourth measurement: for each
 * count k, k drain containers (the drainOutbox handler, each in a process of
 * its own, OUTBOX_MAX_CONCURRENT_DRAINS=k) are invoked at once on the same
 * outbox of --scale-events events, on topics with --scale-partitions
 * partitions. Events/s is the time until the last of them returns. Then the
 * topic is read back: every event is there, and each aggregate's events
 * arrive in the order they were created (seq), whichever drain sent them.
 */
import { randomBytes } from "node:crypto";
import type { Kafka } from "kafkajs";
import type { Pool } from "../lib/db/pool.ts";
import { newId } from "../lib/ids.ts";
import { HEADER_EVENT_ID, topicFor } from "../lib/kafka/messages.ts";
import type { KafkaClientEnv } from "../tools/local-services/kafka.ts";
import { FunctionProcess } from "./lambda/processes.ts";

export interface ScaleOutOptions {
  pool: Pool;
  databaseUrl: string;
  kafka: Kafka;
  /** How a drain process reaches the broker: KAFKA_BROKERS and, for a TLS/SASL broker, its KAFKA_SSL* and KAFKA_SASL_* settings. */
  kafkaEnv: KafkaClientEnv;
  events: number;
  /** Events per aggregate, interleaved at random, so aggregates span batches and drains. */
  perAggregate: number;
  partitions: number;
  batchSize: number;
  drainCounts: number[];
  log: (line: string) => void;
}

export interface ScaleOutResult {
  drains: number;
  ms: number;
  perSecond: number;
  /** Invocations that found no slot (should be 0: as many slots as drains). */
  noSlot: number;
  delivered: number;
  duplicates: number;
  outOfOrder: number;
}

export async function measureScaleOut(o: ScaleOutOptions): Promise<ScaleOutResult[]> {
  const results: ScaleOutResult[] = [];
  for (const k of o.drainCounts) {
    const prefix = `scale${randomBytes(3).toString("hex")}.payments`;
    const topic = topicFor(prefix, "PaymentAuthorized");
    const admin = o.kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [topic, `${prefix}.dlq`].map((t) => ({ topic: t, numPartitions: o.partitions })),
    });
    await admin.disconnect();

    await o.pool.query("DELETE FROM outbox");
    const seqOf = await fill(o.pool, o.events, o.perAggregate);
    const containers: FunctionProcess[] = [];
    try {
      for (let i = 0; i < k; i += 1) {
        containers.push(
          await FunctionProcess.start(`drain${i + 1}`, "drain", {
            DATABASE_URL: o.databaseUrl,
            ...o.kafkaEnv,
            KAFKA_LOG_LEVEL: "error",
            OUTBOX_TOPIC_PREFIX: prefix,
            OUTBOX_BATCH_SIZE: String(o.batchSize),
            OUTBOX_MAX_CONCURRENT_DRAINS: String(k),
            AWS_LAMBDA_LOG_STREAM_NAME: `scale-${k}-${i + 1}`,
            POWERTOOLS_LOG_LEVEL: "WARN",
            AWS_REGION: "us-east-1",
          }),
        );
      }
      o.log(`${k} drain(s) on ${o.events} events…`);
      const started = performance.now();
      const outcomes = await Promise.all(containers.map((c) => c.invoke(600_000)));
      const ms = performance.now() - started;
      const summaries = outcomes.map((outcome) => {
        if (outcome.error) throw new Error(`drain failed: ${outcome.error}`);
        return outcome.result as { published: number; stoppedBy: string };
      });
      const published = summaries.reduce((n, s) => n + s.published, 0);
      if (published < o.events) throw new Error(`${k} drains published ${published} of ${o.events}`);
      const order = await readBack(o.kafka, topic, seqOf, o.events);
      results.push({
        drains: k,
        ms,
        perSecond: (o.events / ms) * 1000,
        noSlot: summaries.filter((s) => s.stoppedBy === "no-slot").length,
        ...order,
      });
    } finally {
      await Promise.allSettled(containers.map((c) => c.stop()));
    }
  }
  return results;
}

/** `count` PaymentAuthorized events, `perAggregate` per aggregate, interleaved at random; returns seq by event id. */
async function fill(pool: Pool, count: number, perAggregate: number): Promise<Map<string, bigint>> {
  const aggregates = Array.from({ length: Math.ceil(count / perAggregate) }, () => newId());
  const owners = Array.from({ length: count }, (_, i) => aggregates[i % aggregates.length] as string);
  for (let i = owners.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [owners[i], owners[j]] = [owners[j] as string, owners[i] as string];
  }
  const chunk = 10_000;
  for (let done = 0; done < count; done += chunk) {
    const slice = owners.slice(done, done + chunk);
    await pool.query(
      `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
       SELECT e.id, 'payment', e.aggregate_id, 'PaymentAuthorized', jsonb_build_object(
         'payment_id', e.aggregate_id, 'payer_account_id', e.id, 'payee_account_id', e.id, 'amount_cents', 1250,
         'currency', 'EUR', 'description', 'bench payment', 'authorized_at', rfc3339(now()))
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS e(id, aggregate_id, n) ORDER BY n`,
      [slice.map(() => newId()), slice],
    );
  }
  await pool.query("VACUUM ANALYZE outbox");
  const { rows } = await pool.query<{ id: string; seq: bigint }>("SELECT id, seq FROM outbox");
  return new Map(rows.map((r) => [r.id, r.seq]));
}

/** Reads the topic from the start until every event is there; counts duplicates and per-aggregate order breaks. */
async function readBack(
  kafka: Kafka,
  topic: string,
  seqOf: Map<string, bigint>,
  expected: number,
): Promise<{ delivered: number; duplicates: number; outOfOrder: number }> {
  const consumer = kafka.consumer({ groupId: `scale-check-${randomBytes(4).toString("hex")}` });
  const seen = new Set<string>();
  const lastSeq = new Map<string, bigint>();
  let duplicates = 0;
  let outOfOrder = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`read ${seen.size} of ${expected} events in 120 s`)),
        120_000,
      );
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              const id = message.headers?.[HEADER_EVENT_ID]?.toString() ?? "";
              const key = message.key?.toString() ?? "";
              const seq = seqOf.get(id);
              if (seq === undefined) throw new Error(`unknown event ${id}`);
              if (seen.has(id)) {
                // At least once: a re-sent message is a duplicate, not an order break.
                duplicates += 1;
                continue;
              }
              seen.add(id);
              // A partition holds all of a key's messages: within it, each first delivery's seq must grow.
              const previous = lastSeq.get(key);
              if (previous !== undefined && seq < previous) outOfOrder += 1;
              else lastSeq.set(key, seq);
            }
            if (seen.size >= expected) {
              clearTimeout(deadline);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return { delivered: seen.size, duplicates, outOfOrder };
}
