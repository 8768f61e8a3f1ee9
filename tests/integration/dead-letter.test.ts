import { describe, expect, it } from "vitest";
import { redriveDeadLetter } from "../../lib/dead-letters/redrive.ts";
import { DeadLetterRepository } from "../../lib/dead-letters/repository.ts";
import { DeadLetterService } from "../../lib/dead-letters/service.ts";
import { ServiceError, UnavailableError } from "../../lib/errors.ts";
import type { DeadLetterEnvelope } from "../../lib/events/envelope.ts";
import { newId } from "../../lib/ids.ts";
import { freePort } from "../../tools/local-services/ports.ts";
import { createTopics, readTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import {
  authorizedPayload,
  deadLetterService,
  drainWithDeadLetters,
  insertOutboxEvents,
  outboxRows,
  outboxTestContext,
  realClock,
  testPublisher,
  validators,
} from "../support/outbox.ts";

const ctx = outboxTestContext();

function envelopeFor(eventId: string): DeadLetterEnvelope {
  return {
    event_id: eventId,
    event: { event_id: eventId, event_type: "PaymentAuthorized", aggregate_id: newId(), payload: {} },
    retry_count: 5,
    failed_at: new Date().toISOString(),
    error: "MESSAGE_TOO_LARGE: The request included a message larger than the max message size",
  };
}

describe("deadLetter", () => {
  it("records the dead letter even when Kafka is down, throws so Lambda retries, then publishes it once", async () => {
    const prefix = uniqueTopicPrefix();
    const dlqTopic = `${prefix}.dlq`;
    await createTopics(ctx.kafka, [dlqTopic]);
    const envelope = envelopeFor(newId());

    // Nothing listens on this port: a broker that is down.
    const downPublisher = testPublisher(ctx.kafkaEnv, {
      KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
      KAFKA_CONNECTION_TIMEOUT_MS: "300",
      KAFKA_RETRIES: "0",
    });
    const down = new DeadLetterService({
      repository: new DeadLetterRepository(ctx.fx.pool),
      publisher: downPublisher,
      validators,
      clock: realClock,
      dlqTopic,
    });
    ctx.closers.push(() => downPublisher.close());
    const failure = await down.handle(envelope).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UnavailableError);
    const stored = await ctx.fx.pool.query(
      "SELECT retry_count, error, published_at FROM dead_letters WHERE event_id = $1",
      [envelope.event_id],
    );
    expect(stored.rows).toEqual([{ retry_count: 5, error: envelope.error, published_at: null }]);

    // Lambda's retry, with Kafka back.
    const { service, publisher } = deadLetterService(ctx.fx.pool, ctx.kafkaEnv, dlqTopic);
    ctx.closers.push(() => publisher.close());
    expect(await service.handle(envelope)).toEqual({
      eventId: envelope.event_id,
      recorded: false,
      published: true,
    });
    // And once more: nothing left to do.
    expect(await service.handle(envelope)).toEqual({
      eventId: envelope.event_id,
      recorded: false,
      published: false,
    });

    const messages = await readTopics(ctx.kafka, [dlqTopic]);
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0]?.value ?? "{}")).toEqual(envelope);
    const row = await ctx.fx.pool.query(
      "SELECT count(*)::int AS n, max(published_at) AS at FROM dead_letters",
    );
    expect(row.rows[0].n).toBe(1);
    expect(row.rows[0].at).not.toBeNull();
  });

  it("refuses a malformed dead letter with INVALID_ARGUMENT and stores nothing", async () => {
    const { service, publisher } = deadLetterService(ctx.fx.pool, ctx.kafkaEnv, `${uniqueTopicPrefix()}.dlq`);
    ctx.closers.push(() => publisher.close());
    const before = (await ctx.fx.pool.query("SELECT count(*)::int AS n FROM dead_letters")).rows[0].n;
    const error = await service
      .handle({ event_id: "nope", event: {}, retry_count: -1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe("INVALID_ARGUMENT");
    expect((error as ServiceError).message).toContain("/event_id");
    expect((await ctx.fx.pool.query("SELECT count(*)::int AS n FROM dead_letters")).rows[0].n).toBe(before);
  });
});

describe("redrive", () => {
  it("puts a dead-lettered event back into the outbox; a new failure is dead-lettered afresh", async () => {
    const prefix = uniqueTopicPrefix();
    const { drain, dlqTopic } = drainWithDeadLetters(ctx, prefix);
    await createTopics(ctx.kafka, [dlqTopic]);
    const aggregate = newId();
    const [eventId] = (await insertOutboxEvents(ctx.fx.pool, [
      { aggregateId: aggregate, payload: { ...authorizedPayload(aggregate), currency: "euro" } },
    ])) as [string];
    expect(await drain.run()).toMatchObject({ deadLettered: 1 });

    const now = new Date();
    expect(await redriveDeadLetter(ctx.fx.pool, eventId, now)).toEqual({
      eventId,
      redrivenAt: now.toISOString(),
    });
    const row = (await outboxRows(ctx.fx.pool)).find((r) => r.id === eventId);
    expect(row).toMatchObject({ attempts: 0, dead_lettered_at: null, last_error: null, claimed_by: null });
    expect(row?.next_attempt_at).toEqual(now);
    const redriven = await ctx.fx.pool.query("SELECT redriven_at FROM dead_letters WHERE event_id = $1", [
      eventId,
    ]);
    expect(redriven.rows[0].redriven_at).toEqual(now);

    // Twice is refused; so is an event that was never dead-lettered.
    const again = await redriveDeadLetter(ctx.fx.pool, eventId, new Date()).catch((e: unknown) => e);
    expect((again as ServiceError).code).toBe("FAILED_PRECONDITION");
    const unknown = await redriveDeadLetter(ctx.fx.pool, newId(), new Date()).catch((e: unknown) => e);
    expect((unknown as ServiceError).code).toBe("NOT_FOUND");

    // Still invalid, so the next drain dead-letters it again: a new record, published again.
    expect(await drain.run()).toMatchObject({ claimed: 1, deadLettered: 1 });
    const record = await ctx.fx.pool.query(
      "SELECT redriven_at, published_at FROM dead_letters WHERE event_id = $1",
      [eventId],
    );
    expect(record.rows[0].redriven_at).toBeNull();
    expect(record.rows[0].published_at).not.toBeNull();
    const dlq = await readTopics(ctx.kafka, [dlqTopic]);
    expect(dlq.map((m) => m.headers.event_id)).toEqual([eventId, eventId]);
  });
});
