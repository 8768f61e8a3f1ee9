/**
 * A topic that does not exist, on a broker that creates none by itself (the
 * shared broker runs with auto.create.topics.enable=false, as MSK and
 * Redpanda Cloud do): the drain and the dead-letter function say so, naming
 * the topic, count it for the alarm, burn no attempt and dead-letter nothing;
 * once the topic is made (the topics step of a deploy), delivery resumes by
 * itself.
 */
import { describe, expect, it } from "vitest";
import { recordDeadLetterFailure } from "../../lib/dead-letters/metrics.ts";
import { DeadLetterRepository } from "../../lib/dead-letters/repository.ts";
import { DeadLetterService } from "../../lib/dead-letters/service.ts";
import { UnavailableError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import { missingTopicsOf } from "../../lib/kafka/errors.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import type { Dimensions, MetricsRecorder } from "../../lib/observability/metrics.ts";
import { recordDrainRun } from "../../lib/outbox/metrics.ts";
import { createLedgerTopics, createTopics, readTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import {
  declinedPayload,
  drainSettings,
  InProcessDeadLetters,
  insertOutboxEvents,
  ManualClock,
  outboxRows,
  outboxTestContext,
  RecordingLog,
  testDrain,
  testPublisher,
  validators,
} from "../support/outbox.ts";

const ctx = outboxTestContext();
const RETRY_MS = 60_000;

class RecordingMetrics implements MetricsRecorder {
  readonly counts = new Map<string, number>();
  count(name: string, _dimensions: Dimensions, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  milliseconds(): void {}
}

async function emptyTables(): Promise<void> {
  await ctx.fx.pool.query("DELETE FROM outbox");
  await ctx.fx.pool.query("DELETE FROM dead_letters");
}

describe("a topic that does not exist", () => {
  it("the drain names it, parks its events (no attempt, no dead letter), delivers the rest, and resumes by itself once it exists", async () => {
    await emptyTables();
    const prefix = uniqueTopicPrefix();
    const authorized = topicFor(prefix, "PaymentAuthorized");
    const declined = topicFor(prefix, "PaymentDeclined");
    // The declined topic is missing: a deploy whose topics step was skipped.
    await createTopics(ctx.kafka, [authorized, `${prefix}.dlq`]);

    const [a, b, c] = [newId(), newId(), newId()];
    await insertOutboxEvents(ctx.fx.pool, [
      { aggregateId: a },
      { aggregateId: b, eventType: "PaymentDeclined", payload: declinedPayload(b) },
      { aggregateId: c },
      // After its aggregate's event on the missing topic: it must wait behind it.
      { aggregateId: b },
    ]);

    const clock = new ManualClock();
    const log = new RecordingLog();
    const dlq = new InProcessDeadLetters(
      new DeadLetterService({
        repository: new DeadLetterRepository(ctx.fx.pool),
        publisher: testPublisher(ctx.kafkaEnv),
        validators,
        clock,
        dlqTopic: `${prefix}.dlq`,
      }),
    );
    const { drain, publisher } = testDrain({
      pool: ctx.fx.pool,
      kafka: ctx.kafkaEnv,
      clock,
      log,
      settings: drainSettings(prefix, { missingTopicRetryMs: RETRY_MS }),
      deadLetters: dlq,
    });
    ctx.closers.push(() => publisher.close());

    const first = await drain.run();
    expect(first).toMatchObject({
      stoppedBy: "drained",
      published: 2,
      parked: 1,
      missingTopics: [declined],
      retried: 0,
      deadLettered: 0,
    });
    const metrics = new RecordingMetrics();
    recordDrainRun(metrics, first);
    expect(metrics.counts.get("KafkaTopicMissing")).toBe(1);
    // Said at error level, naming the topic and what to do.
    const errors = log.errors();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toContain("npm run topics");
    expect(errors[0]?.attributes).toMatchObject({ topics: [declined], parked: 1 });

    const rows = await outboxRows(ctx.fx.pool);
    const byAggregate = (id: string) => rows.filter((r) => r.aggregate_id === id);
    expect(byAggregate(a).every((r) => r.published_at !== null)).toBe(true);
    expect(byAggregate(c).every((r) => r.published_at !== null)).toBe(true);
    const [parked, behind] = byAggregate(b);
    expect(parked).toMatchObject({ event_type: "PaymentDeclined", attempts: 0, published_at: null });
    expect(parked?.dead_lettered_at).toBeNull();
    expect(parked?.last_error).toContain(`Kafka topic ${declined} does not exist`);
    expect(parked?.next_attempt_at.getTime()).toBe(clock.now().getTime() + RETRY_MS);
    expect(behind).toMatchObject({ attempts: 0, published_at: null, claimed_by: null });
    expect(dlq.handedOver).toEqual([]);

    // Not a loop: until the retry time nothing is claimed, sent or logged again.
    const quiet = await drain.run();
    expect(quiet).toMatchObject({ claimed: 0, published: 0, parked: 0 });
    expect(log.errors()).toHaveLength(1);

    // The topic is made the way a deploy makes it; the next drain after the retry time delivers.
    await createLedgerTopics(ctx.kafkaEnv, prefix);
    clock.advance(RETRY_MS);
    const after = await drain.run();
    expect(after).toMatchObject({ published: 2, parked: 0, missingTopics: [], deadLettered: 0 });
    const end = await outboxRows(ctx.fx.pool);
    expect(end.every((r) => r.published_at !== null && r.attempts === 0 && r.dead_lettered_at === null)).toBe(
      true,
    );
    const messages = await readTopics(ctx.kafka, [authorized, declined]);
    expect(messages.filter((m) => m.key === b).map((m) => m.topic)).toEqual([authorized, declined].sort());
    expect(dlq.handedOver).toEqual([]);
  });

  it("the dead-letter function names a missing DLQ topic, keeps the record, counts it, and publishes once the topic exists", async () => {
    await emptyTables();
    const prefix = uniqueTopicPrefix();
    const dlqTopic = `${prefix}.dlq`;
    const log = new RecordingLog();
    const publisher = testPublisher(ctx.kafkaEnv);
    ctx.closers.push(() => publisher.close());
    const service = new DeadLetterService({
      repository: new DeadLetterRepository(ctx.fx.pool),
      publisher,
      validators,
      clock: { now: () => new Date() },
      dlqTopic,
      log,
    });
    const eventId = newId();
    const envelope = {
      event_id: eventId,
      event: { event_id: eventId, event_type: "PaymentAuthorized", aggregate_id: newId() },
      retry_count: 5,
      failed_at: new Date().toISOString(),
      error: "MESSAGE_TOO_LARGE: too big",
    };

    const failure = await service.handle(envelope).catch((e: unknown) => e);
    // UNAVAILABLE, so Lambda retries the invocation; the missing topic is named on it.
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as Error).message).toContain(`Kafka topic ${dlqTopic} does not exist`);
    expect(missingTopicsOf(failure)).toEqual([dlqTopic]);
    const metrics = new RecordingMetrics();
    recordDeadLetterFailure(metrics, failure);
    expect(metrics.counts.get("KafkaTopicMissing")).toBe(1);
    expect(log.errors()[0]?.attributes).toMatchObject({ eventId, topics: [dlqTopic] });
    const stored = await ctx.fx.pool.query("SELECT published_at FROM dead_letters WHERE event_id = $1", [
      eventId,
    ]);
    expect(stored.rows).toEqual([{ published_at: null }]);

    await createLedgerTopics(ctx.kafkaEnv, prefix);
    // Lambda's retry of the same invocation.
    expect(await service.handle(envelope)).toMatchObject({ eventId, recorded: false, published: true });
    const messages = await readTopics(ctx.kafka, [dlqTopic]);
    expect(messages.map((m) => m.headers.event_id)).toEqual([eventId]);
  });
});
