/**
 * The event contract end to end: what the ledger's SQL writes, and what
 * reaches the broker through the real drain and dead-letter function, checked
 * against schemas/ and against the replaced system's own schemas (vendored
 * under tests/contract/grpc-payment-ledger), which its consumers use.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createEventTotalsTable, eventTotalsEffect } from "../../lib/consumer/event-totals.ts";
import { InboxProcessor } from "../../lib/consumer/inbox.ts";
import type { DeadLetter, LedgerEvent } from "../../lib/events/contract.ts";
import { EVENT_TYPES, type EventType, schemaNameOf } from "../../lib/events/contract.ts";
import { type StoredEvent, toEnvelope } from "../../lib/events/envelope.ts";
import { upgradeStoredEvent } from "../../lib/events/legacy.ts";
import { newId } from "../../lib/ids.ts";
import { deadLetterMessage, eventMessage, eventTopics } from "../../lib/kafka/messages.ts";
import { expireDueHolds } from "../../lib/payments/hold-expiry.ts";
import { toRfc3339 } from "../../lib/time.ts";
import {
  createTopics,
  type ReceivedMessage,
  readTopics,
  uniqueTopicPrefix,
} from "../support/kafka-topics.ts";
import { uniqueKey } from "../support/ledger.ts";
import { makeDue } from "../support/lifecycle.ts";
import { OLD_SCHEMA_OF_EVENT_TYPE, oldDeadLetterErrors, oldEventErrors } from "../support/old-contract.ts";
import {
  authorizedPayload,
  drainWithDeadLetters,
  insertOutboxEvents,
  outboxTestContext,
  validators,
} from "../support/outbox.ts";

const ctx = outboxTestContext();

interface ReadmeExample {
  topic: string;
  key: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** README's "Events on the wire": each `<!-- wire: topic -->`, its key, its headers block and its JSON block. */
function readmeExamples(): ReadmeExample[] {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const sections = readme.split("<!-- wire: ").slice(1);
  return sections.map((section) => {
    const topic = section.slice(0, section.indexOf(" -->"));
    const key = /key `([0-9A-Z]{26})`/.exec(section)?.[1] ?? "";
    const headerBlock = /```text\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const jsonBlock = /```json\n([\s\S]*?)```/.exec(section)?.[1] ?? "{}";
    const headers = Object.fromEntries(
      headerBlock
        .trim()
        .split("\n")
        .map((line) => line.split(/\s+/, 2) as [string, string]),
    );
    return { topic, key, headers, body: JSON.parse(jsonBlock) as Record<string, unknown> };
  });
}

/** Field names, in order, all the way down: the shape of a message without its values. */
function layout(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return typeof value;
  return Object.entries(value).map(([k, v]) => [k, layout(v)]);
}

interface OutboxRow {
  id: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  payload: unknown;
  created_at: Date;
}

/** The payment's events, in the order they were written. */
async function storedEvents(paymentId: string): Promise<StoredEvent[]> {
  const { rows } = await ctx.fx.pool.query<OutboxRow>(
    "SELECT id, aggregate_type, aggregate_id, event_type, payload, created_at FROM outbox WHERE aggregate_id = $1 ORDER BY seq",
    [paymentId],
  );
  if (rows.length === 0) throw new Error(`no outbox row for ${paymentId}`);
  return rows.map((row) => ({
    id: row.id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    eventType: row.event_type,
    payload: row.payload,
    createdAt: toRfc3339(row.created_at),
  }));
}

async function storedEvent(paymentId: string): Promise<StoredEvent> {
  const [event] = await storedEvents(paymentId);
  if (!event) throw new Error(`no outbox row for ${paymentId}`);
  return event;
}

/** One payment of each outcome the ledger can decide: every event type and every decline code. */
async function payEveryOutcome(): Promise<string[]> {
  const payer = await ctx.fx.openFundedAccount(100n);
  const payee = await ctx.fx.openFundedAccount(0n);
  const base = {
    payerAccountId: payer.accountId,
    payeeAccountId: payee.accountId,
    amountCents: 9_007_199_254_740_991n,
    currency: "EUR",
    description: "ünïcödé",
  };
  const cases = [
    { ...base, amountCents: 40n },
    base,
    { ...base, payeeAccountId: payer.accountId },
    { ...base, currency: "USD" },
    { ...base, payeeAccountId: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" },
    { ...base, payerAccountId: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", amountCents: 1n },
  ];
  const ids: string[] = [];
  for (const cmd of cases) {
    ids.push((await ctx.fx.service.authorizePayment({ idempotencyKey: uniqueKey(), ...cmd })).paymentId);
  }
  return ids;
}

/**
 * Every event a payment's lifecycle writes: a hold captured in part and
 * refunded (made and declined), a hold voided, a hold expired. Returns the
 * payments.
 */
async function runEveryLifecycle(): Promise<string[]> {
  const { service } = ctx.fx;
  const payer = await ctx.fx.openFundedAccount(1000n);
  const payee = await ctx.fx.openFundedAccount(0n);
  const hold = async () =>
    (
      await service.authorizePayment({
        idempotencyKey: uniqueKey(),
        payerAccountId: payer.accountId,
        payeeAccountId: payee.accountId,
        amountCents: 100n,
        currency: "EUR",
        description: "deposit",
        hold: { expiresInSeconds: 3600 },
      })
    ).paymentId;
  const captured = await hold();
  await service.capturePayment({ idempotencyKey: uniqueKey(), paymentId: captured, amountCents: 60n });
  await service.refundPayment({
    idempotencyKey: uniqueKey(),
    paymentId: captured,
    amountCents: 20n,
    description: "",
  });
  await service.refundPayment({
    idempotencyKey: uniqueKey(),
    paymentId: captured,
    amountCents: 41n,
    description: "",
  });
  const voided = await hold();
  await service.voidPayment(voided);
  const expired = await hold();
  await makeDue(ctx.fx.pool, expired);
  while ((await expireDueHolds(ctx.fx.store, 10)) > 0);
  return [captured, voided, expired];
}

describe("what the ledger writes (lib/ledger/sql/020_authorize_payment.sql)", () => {
  it("is the contract as it stands: every event type and decline code validates, nothing to rewrite", async () => {
    const seen = new Set<string>();
    for (const paymentId of [...(await payEveryOutcome()), ...(await runEveryLifecycle())]) {
      for (const stored of await storedEvents(paymentId)) {
        // Written in the contract's shape: the reading of older rows has nothing to do.
        expect(upgradeStoredEvent(stored)).toBe(stored);
        const check = validators.event(toEnvelope(stored));
        if (!check.ok) throw new Error(`${paymentId}: ${check.error}`);
        const event = check.value;
        // The replaced system's consumers know two of the types; the others have topics of their own.
        if (OLD_SCHEMA_OF_EVENT_TYPE[event.event_type]) expect(oldEventErrors(event)).toEqual([]);
        expect(event.aggregate_id).toBe(paymentId);
        expect(event.payload.payment_id).toBe(paymentId);
        seen.add(
          event.event_type === "PaymentDeclined" || event.event_type === "PaymentRefundDeclined"
            ? `${event.event_type}:${event.payload.error_code}`
            : event.event_type,
        );
      }
    }
    expect([...seen].sort()).toEqual([
      "PaymentAuthorized",
      "PaymentCaptured",
      "PaymentDeclined:ACCOUNT_NOT_FOUND",
      "PaymentDeclined:CURRENCY_MISMATCH",
      "PaymentDeclined:INSUFFICIENT_FUNDS",
      "PaymentDeclined:SAME_ACCOUNT",
      "PaymentExpired",
      "PaymentHeld",
      "PaymentRefundDeclined:EXCEEDS_REFUNDABLE",
      "PaymentRefunded",
      "PaymentVoided",
    ]);
  });

  it("keeps money exact: 2^53-1 minor units arrive as that number", async () => {
    const payer = await ctx.fx.openFundedAccount(9_007_199_254_740_991n);
    const payee = await ctx.fx.openFundedAccount(0n);
    const { paymentId } = await ctx.fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 9_007_199_254_740_991n,
      currency: "EUR",
      description: "",
    });
    const stored = await storedEvent(paymentId);
    expect(stored.eventType).toBe("PaymentAuthorized");
    expect(stored.payload).toMatchObject({ amount_cents: Number.MAX_SAFE_INTEGER });
    expect(validators.event(toEnvelope(stored))).toMatchObject({ ok: true });
  });
});

describe("on the wire", () => {
  it("every event type, a row of the previous release and real dead letters: valid for the replaced system's consumers", async () => {
    const prefix = uniqueTopicPrefix();
    const { drain, dlqTopic } = drainWithDeadLetters(ctx, prefix);
    const topics = [...eventTopics(prefix), dlqTopic];
    await createTopics(ctx.kafka, topics);

    const paid = [...(await payEveryOutcome()), ...(await runEveryLifecycle())];
    // Pending since the previous release: written in the old shape.
    const oldAuthorized = newId();
    const oldDeclined = newId();
    const [oldAuthorizedEvent, oldDeclinedEvent] = await insertOutboxEvents(ctx.fx.pool, [
      {
        aggregateId: oldAuthorized,
        aggregateType: "payment",
        payload: { ...authorizedPayload(oldAuthorized), authorized_at: "2026-01-02T03:04:05.678Z" },
      },
      {
        aggregateId: oldDeclined,
        aggregateType: "payment",
        eventType: "PaymentDeclined",
        payload: {
          payment_id: oldDeclined,
          payer_account_id: newId(),
          payee_account_id: newId(),
          amount_cents: 700,
          currency: "EUR",
          reason_code: "INSUFFICIENT_FUNDS",
          reason: "payer account has insufficient funds",
          declined_at: "2026-01-02T03:04:05.678Z",
        },
      },
    ]);
    // Poison, as `npm run drill:dead-letter` writes it (a PaymentAuthorized with only its id), and
    // one whose payload is not even an object: each becomes a real dead letter.
    const drilled = newId();
    const [drillEvent, arrayEvent] = await insertOutboxEvents(ctx.fx.pool, [
      { aggregateId: drilled, payload: { payment_id: drilled } },
      { aggregateId: newId(), payload: ["not", "an", "object"] },
    ]);

    const summary = await drain.run();
    expect(summary).toMatchObject({ deadLettered: 2, retried: 0 });

    const messages = await readTopics(ctx.kafka, topics);
    const eventMessages = messages.filter((m) => m.topic !== dlqTopic);
    const deadLetters = messages.filter((m) => m.topic === dlqTopic);
    const body = (m: { value: string }) => JSON.parse(m.value) as Record<string, unknown>;

    // Each event once (others of this file's database may leave with them: the funding payments).
    const eventIds = eventMessages.map((m) => m.headers.event_id);
    expect(new Set(eventIds).size).toBe(eventIds.length);
    const aggregates = eventMessages.map((m) => body(m).aggregate_id);
    for (const id of [...paid, oldAuthorized, oldDeclined]) expect(aggregates).toContain(id);
    expect(eventIds).toContain(oldAuthorizedEvent);
    expect(eventIds).toContain(oldDeclinedEvent);
    expect(deadLetters.map((m) => m.headers.event_id).sort()).toEqual([drillEvent, arrayEvent].sort());

    for (const message of eventMessages) {
      const event = body(message);
      const type = event.event_type as string;
      // The replaced system's consumers read the event types they knew; a type added later has a
      // topic of its own, which they never read, and is held to schemas/ alone.
      if (OLD_SCHEMA_OF_EVENT_TYPE[type]) expect(oldEventErrors(event), message.value).toEqual([]);
      expect(validators.event(event), message.value).toMatchObject({ ok: true });
      expect(Object.keys(event)).toEqual([
        "event_id",
        "aggregate_type",
        "aggregate_id",
        "event_type",
        "payload",
        "timestamp",
      ]);
      expect(message.topic).toBe(`${prefix}.${type.toLowerCase()}`);
      expect(message.key).toBe(event.aggregate_id);
      expect(message.headers).toEqual({
        event_id: event.event_id,
        event_type: type,
        schema: schemaNameOf(type as EventType),
        traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
      });
    }
    for (const type of EVENT_TYPES) {
      expect(
        eventMessages.some((m) => body(m).event_type === type),
        `no ${type} on the wire`,
      ).toBe(true);
    }
    // The old rows left in the contract: their fields renamed, the rest as they were.
    const oldDeclinedMessage = eventMessages.find((m) => m.headers.event_id === oldDeclinedEvent);
    expect(body(oldDeclinedMessage ?? { value: "{}" })).toMatchObject({
      aggregate_type: "Payment",
      payload: { error_code: "INSUFFICIENT_FUNDS", error_message: "payer account has insufficient funds" },
    });

    for (const message of deadLetters) {
      const letter = body(message);
      expect(oldDeadLetterErrors(letter), message.value).toEqual([]);
      expect(validators.deadLetter(letter), message.value).toMatchObject({ ok: true });
      expect(message.headers).toEqual({
        event_id: letter.event_id,
        event_type: "PaymentAuthorized",
        schema: "dead_letter",
        traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
      });
    }
    const drill = body(deadLetters.find((m) => m.headers.event_id === drillEvent) ?? { value: "{}" });
    expect(drill).toMatchObject({
      event_id: drillEvent,
      aggregate_type: "Payment",
      aggregate_id: drilled,
      event_type: "PaymentAuthorized",
      payload: { payment_id: drilled },
      retry_count: 0,
      error: expect.stringContaining("must have required property 'payer_account_id'"),
    });

    // README shows one message of each type exactly as it is sent: the same fields in the same
    // order, the same headers, and valid for the replaced system's consumers.
    const examples = readmeExamples();
    // One of each, in the order the README tells them (a payment's life, then the DLQ).
    expect(examples.map((e) => e.topic).sort()).toEqual([...eventTopics("payments"), "payments.dlq"].sort());
    for (const example of examples) {
      const real: ReceivedMessage | undefined =
        example.topic === "payments.dlq"
          ? deadLetters.find((m) => m.headers.event_id === drillEvent)
          : eventMessages.find((m) => m.topic === example.topic.replace(/^payments/, prefix));
      if (!real) throw new Error(`nothing on the wire like README's ${example.topic} example`);
      expect(layout(example.body), example.topic).toEqual(layout(body(real)));
      expect(Object.keys(example.headers), example.topic).toEqual(Object.keys(real.headers));
      const traceparent = example.headers.traceparent as string;
      const built =
        example.topic === "payments.dlq"
          ? deadLetterMessage(example.topic, example.body as unknown as DeadLetter, traceparent)
          : eventMessage("payments", example.body as unknown as LedgerEvent, traceparent);
      expect({ topic: built.topic, key: built.key, headers: built.headers }).toEqual({
        topic: example.topic,
        key: example.key,
        headers: example.headers,
      });
      if (example.topic === "payments.dlq") {
        expect(oldDeadLetterErrors(example.body)).toEqual([]);
        expect(validators.deadLetter(example.body)).toMatchObject({ ok: true });
        // The drill's dead letter, error and all, but for its ids and times.
        expect(example.body.error).toBe(body(real).error);
      } else {
        if (OLD_SCHEMA_OF_EVENT_TYPE[example.body.event_type as string]) {
          expect(oldEventErrors(example.body)).toEqual([]);
        }
        expect(validators.event(example.body), example.topic).toMatchObject({ ok: true });
      }
    }

    // The sample consumer reads them all as they are: every one accepted, none kept aside.
    await createEventTotalsTable(ctx.fx.pool);
    const consumer = `contract-${newId()}`;
    const processor = new InboxProcessor({
      pool: ctx.fx.pool,
      consumer,
      validators,
      topics: { prefix, dlq: dlqTopic },
      effect: eventTotalsEffect(consumer),
    });
    for (const m of messages) {
      const result = await processor.process({
        topic: m.topic,
        partition: m.partition,
        offset: m.offset.toString(),
        key: Buffer.from(m.key),
        value: Buffer.from(m.value),
        headers: m.headers,
      });
      expect(result, m.value).toMatchObject({ status: "processed" });
    }
  });
});
