import { describe, expect, it } from "vitest";
import { redriveDeadLetter } from "../../lib/dead-letters/redrive.ts";
import { DeadLetterRepository } from "../../lib/dead-letters/repository.ts";
import { DeadLetterService } from "../../lib/dead-letters/service.ts";
import { ServiceError, UnavailableError } from "../../lib/errors.ts";
import type { DeadLetter } from "../../lib/events/contract.ts";
import { newId } from "../../lib/ids.ts";
import { freePort } from "../../tools/local-services/ports.ts";
import { createTopics, readTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { oldDeadLetterErrors, oldEventErrors } from "../support/old-contract.ts";
import {
  authorizedEvent,
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

function envelopeFor(eventId: string): DeadLetter {
  const event = authorizedEvent();
  return {
    ...event,
    payload: { ...event.payload },
    event_id: eventId,
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

describe("a poison event whose stored row cannot fill a dead letter's field", () => {
  it("carries {} for a payload that is no JSON object, says so in the error, and redrives from the outbox row", async () => {
    const prefix = uniqueTopicPrefix();
    const { drain, dlqTopic } = drainWithDeadLetters(ctx, prefix);
    const topic = `${prefix}.paymentauthorized`;
    await createTopics(ctx.kafka, [topic, dlqTopic]);
    const aggregate = newId();
    const [eventId] = (await insertOutboxEvents(ctx.fx.pool, [
      { aggregateId: aggregate, payload: [1, 2, 3] },
    ])) as [string];
    expect(await drain.run()).toMatchObject({ deadLettered: 1 });

    const [message] = await readTopics(ctx.kafka, [dlqTopic]);
    const letter = JSON.parse(message?.value ?? "{}");
    expect(validators.deadLetter(letter)).toMatchObject({ ok: true });
    expect(oldDeadLetterErrors(letter)).toEqual([]);
    expect(letter).toMatchObject({
      event_id: eventId,
      aggregate_type: "Payment",
      aggregate_id: aggregate,
      event_type: "PaymentAuthorized",
      payload: {},
      retry_count: 0,
    });
    expect(letter.error).toMatch(
      /^invalid event: \/payload must be object; the dead letter carries payload \(stored: an array\) as \{\}$/,
    );

    // The outbox keeps the row as it was written; fixed there, it leaves by redrive.
    const stored = await ctx.fx.pool.query("SELECT payload FROM outbox WHERE id = $1", [eventId]);
    expect(stored.rows[0].payload).toEqual([1, 2, 3]);
    await ctx.fx.pool.query("UPDATE outbox SET payload = $2 WHERE id = $1", [
      eventId,
      JSON.stringify(authorizedPayload(aggregate)),
    ]);
    await redriveDeadLetter(ctx.fx.pool, eventId, new Date());
    expect(await drain.run()).toMatchObject({ published: 1 });
    const [sent] = await readTopics(ctx.kafka, [topic]);
    expect(oldEventErrors(JSON.parse(sent?.value ?? "{}"))).toEqual([]);
  });
});

describe("dead letters of the previous release", () => {
  /** What the previous release's drain handed the dead-letter function: the event nested, in the old envelope. */
  function oldHandOff(eventId: string, aggregateId: string) {
    return {
      event_id: eventId,
      event: {
        event_id: eventId,
        event_type: "PaymentDeclined",
        schema: "payment_declined",
        aggregate_type: "payment",
        aggregate_id: aggregateId,
        occurred_at: "2026-01-02T03:04:05.678Z",
        version: 1,
        payload: {
          payment_id: aggregateId,
          payer_account_id: newId(),
          payee_account_id: newId(),
          amount_cents: 500,
          currency: "EUR",
          reason_code: "INSUFFICIENT_FUNDS",
          reason: "payer account has insufficient funds",
          declined_at: "2026-01-02T03:04:05.678Z",
        },
      },
      retry_count: 5,
      failed_at: "2026-01-02T03:05:00.000Z",
      error: "INVALID_RECORD: rejected (after 5 attempts)",
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
  }

  const expectedLetter = (eventId: string, aggregateId: string) => ({
    event_id: eventId,
    aggregate_type: "Payment",
    aggregate_id: aggregateId,
    event_type: "PaymentDeclined",
    payload: {
      payment_id: aggregateId,
      payer_account_id: expect.any(String),
      payee_account_id: expect.any(String),
      amount_cents: 500,
      currency: "EUR",
      error_code: "INSUFFICIENT_FUNDS",
      error_message: "payer account has insufficient funds",
    },
    timestamp: "2026-01-02T03:04:05.678Z",
    retry_count: 5,
    failed_at: "2026-01-02T03:05:00.000Z",
    error: "INVALID_RECORD: rejected (after 5 attempts)",
  });

  it("takes a hand-off in the old nested shape and publishes it flat, in the contract", async () => {
    const dlqTopic = `${uniqueTopicPrefix()}.dlq`;
    await createTopics(ctx.kafka, [dlqTopic]);
    const { service, publisher } = deadLetterService(ctx.fx.pool, ctx.kafkaEnv, dlqTopic);
    ctx.closers.push(() => publisher.close());
    const [eventId, aggregateId] = [newId(), newId()];
    expect(await service.handle(oldHandOff(eventId, aggregateId))).toMatchObject({
      recorded: true,
      published: true,
    });
    const [message] = await readTopics(ctx.kafka, [dlqTopic]);
    const letter = JSON.parse(message?.value ?? "{}");
    expect(letter).toEqual(expectedLetter(eventId, aggregateId));
    expect(oldDeadLetterErrors(letter)).toEqual([]);
    expect(message?.headers.traceparent).toBe(oldHandOff(eventId, aggregateId).traceparent);
  });

  it("publishes a record the previous release stored but had not yet published, in the contract", async () => {
    const dlqTopic = `${uniqueTopicPrefix()}.dlq`;
    await createTopics(ctx.kafka, [dlqTopic]);
    const [eventId, aggregateId] = [newId(), newId()];
    const old = oldHandOff(eventId, aggregateId);
    // As the previous release recorded it while Kafka was down: the old envelope under `event`.
    await ctx.fx.pool.query(
      `INSERT INTO dead_letters (event_id, event, retry_count, error, failed_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [eventId, JSON.stringify(old.event), old.retry_count, old.error, old.failed_at],
    );
    // Lambda's retry of that hand-off reaches this release's function.
    const { service, publisher } = deadLetterService(ctx.fx.pool, ctx.kafkaEnv, dlqTopic);
    ctx.closers.push(() => publisher.close());
    expect(await service.handle(old)).toMatchObject({ recorded: false, published: true });
    const [message] = await readTopics(ctx.kafka, [dlqTopic]);
    const letter = JSON.parse(message?.value ?? "{}");
    expect(letter).toEqual(expectedLetter(eventId, aggregateId));
    expect(oldDeadLetterErrors(letter)).toEqual([]);
  });

  it("redrives an outbox row written in the old shape into the contract", async () => {
    const prefix = uniqueTopicPrefix();
    const { drain, dlqTopic } = drainWithDeadLetters(ctx, prefix);
    const topic = `${prefix}.paymentdeclined`;
    await createTopics(ctx.kafka, [topic, dlqTopic]);
    const [eventId, aggregateId] = [newId(), newId()];
    const old = oldHandOff(eventId, aggregateId);
    // Dead-lettered by the previous release: its outbox row and its record, both in the old shape.
    await ctx.fx.pool.query(
      `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, attempts, dead_lettered_at, last_error)
       VALUES ($1, 'payment', $2, 'PaymentDeclined', $3, 5, now(), $4)`,
      [eventId, aggregateId, JSON.stringify(old.event.payload), old.error],
    );
    await ctx.fx.pool.query(
      "INSERT INTO dead_letters (event_id, event, retry_count, error, failed_at, published_at) VALUES ($1, $2, 5, $3, $4, now())",
      [eventId, JSON.stringify(old.event), old.error, old.failed_at],
    );
    await redriveDeadLetter(ctx.fx.pool, eventId, new Date());
    expect(await drain.run()).toMatchObject({ published: 1, deadLettered: 0 });
    const [message] = await readTopics(ctx.kafka, [topic]);
    const event = JSON.parse(message?.value ?? "{}");
    expect(oldEventErrors(event)).toEqual([]);
    expect(validators.event(event)).toMatchObject({ ok: true });
    expect(event).toMatchObject({
      event_id: eventId,
      aggregate_type: "Payment",
      payload: { error_code: "INSUFFICIENT_FUNDS", error_message: "payer account has insufficient funds" },
    });
  });
});
