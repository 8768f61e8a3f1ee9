import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { newId } from "../../lib/ids.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import { createTopics, readTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import {
  deadLetterService,
  drainSettings,
  InProcessDeadLetters,
  insertOutboxEvents,
  ManualClock,
  outboxRows,
  outboxTestContext,
  testDrain,
} from "../support/outbox.ts";

const CHILD_SCRIPT = fileURLToPath(new URL("../support/drain-child.ts", import.meta.url));
const KILLS = 4;
const BATCH = 100;
const LEASE_MS = 60_000;

const ctx = outboxTestContext();
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

/** Starts a drain process and resolves with the ids it sent once it pauses after its first send. */
function drainUntilSent(env: Record<string, string>): Promise<{ child: ChildProcess; sent: string[] }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD_SCRIPT], {
    env: { ...process.env, ...env, DRAIN_TEST_PAUSE_AFTER_SEND: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      const parsed = JSON.parse(line) as { sent?: string[]; summary?: unknown };
      if (parsed.sent) resolve({ child, sent: parsed.sent });
      else reject(new Error(`drain child finished without sending anything: ${line}`));
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`drain child exited (${signal ?? code}) before sending:\n${stderr}`)),
    );
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe("a drain killed between send and mark", () => {
  it("leaves every event in Kafka at least once, duplicating only the killed in-flight batches", async () => {
    const prefix = uniqueTopicPrefix();
    const topic = topicFor(prefix, "PaymentAuthorized");
    await createTopics(ctx.kafka, [topic, `${prefix}.dlq`]);
    // More aggregates than the killed drains can hold under lease, several events each.
    const aggregates = Array.from({ length: 1_000 }, () => newId());
    await insertOutboxEvents(
      ctx.fx.pool,
      [0, 1, 2].flatMap(() => aggregates.map((aggregateId) => ({ aggregateId }))),
    );

    const env = {
      DATABASE_URL: ctx.fx.db.url,
      ...ctx.kafkaEnv,
      KAFKA_LOG_LEVEL: "nothing",
      OUTBOX_TOPIC_PREFIX: prefix,
      OUTBOX_BATCH_SIZE: String(BATCH),
      OUTBOX_LEASE_MS: String(LEASE_MS),
      // One batch in flight per process: the one it reports before it pauses.
      OUTBOX_DRAIN_CONCURRENCY: "1",
    };
    const inFlight = new Set<string>();
    for (let kill = 0; kill < KILLS; kill += 1) {
      const { child, sent } = await drainUntilSent(env);
      expect(sent).toHaveLength(BATCH);
      await killed(child);
      children.delete(child);
      for (const id of sent) inFlight.add(id);
    }
    expect(inFlight.size).toBe(KILLS * BATCH);
    // The dead drains' events are still claimed, unpublished: nobody marked them.
    const stuck = (await outboxRows(ctx.fx.pool)).filter((r) => inFlight.has(r.id));
    expect(stuck.every((r) => r.published_at === null && r.claimed_by?.startsWith("child-"))).toBe(true);

    // A later drain, once the dead drains' leases ran out.
    const clock = new ManualClock(new Date(Date.now() + LEASE_MS + 1_000));
    const dlq = deadLetterService(ctx.fx.pool, ctx.kafkaEnv, `${prefix}.dlq`);
    const { drain, publisher } = testDrain({
      pool: ctx.fx.pool,
      kafka: ctx.kafkaEnv,
      clock,
      settings: drainSettings(prefix, { batchSize: 500, leaseMs: LEASE_MS }),
      deadLetters: new InProcessDeadLetters(dlq.service),
    });
    ctx.closers.push(
      () => publisher.close(),
      () => dlq.publisher.close(),
    );
    const summary = await drain.run();
    const rows = await outboxRows(ctx.fx.pool);
    expect(summary.published).toBe(rows.length);
    expect(rows.every((r) => r.published_at !== null && r.attempts === 0)).toBe(true);

    const messages = await readTopics(ctx.kafka, [topic]);
    const copies = new Map<string, number>();
    for (const m of messages)
      copies.set(m.headers.event_id as string, (copies.get(m.headers.event_id as string) ?? 0) + 1);
    expect(copies.size).toBe(rows.length);
    for (const row of rows) {
      expect(copies.get(row.id), row.id).toBe(inFlight.has(row.id) ? 2 : 1);
    }

    // Per aggregate, first deliveries are still in creation order.
    const firstSeen = new Map<string, string[]>();
    const seen = new Set<string>();
    for (const m of messages) {
      const id = m.headers.event_id as string;
      if (seen.has(id)) continue;
      seen.add(id);
      firstSeen.set(m.key, [...(firstSeen.get(m.key) ?? []), id]);
    }
    for (const aggregate of aggregates) {
      expect(firstSeen.get(aggregate)).toEqual(
        rows.filter((r) => r.aggregate_id === aggregate).map((r) => r.id),
      );
    }
  }, 180_000);
});
