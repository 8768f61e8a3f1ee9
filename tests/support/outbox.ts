import type { Kafka } from "kafkajs";
import { afterAll, beforeAll } from "vitest";
import type { Clock } from "../../lib/clock.ts";
import { kafkaConfig, outboxConfig } from "../../lib/config.ts";
import type { Pool } from "../../lib/db/pool.ts";
import type { DeadLetterInvoker } from "../../lib/dead-letters/invoker.ts";
import { DeadLetterRepository } from "../../lib/dead-letters/repository.ts";
import { DeadLetterService } from "../../lib/dead-letters/service.ts";
import type {
  EventType,
  PaymentAuthorized,
  PaymentAuthorizedPayload,
  PaymentDeclinedPayload,
} from "../../lib/events/contract.ts";
import type { DeadLetterRequest } from "../../lib/events/dead-letter.ts";
import { createEventValidators, type EventValidators } from "../../lib/events/validators.ts";
import { newId } from "../../lib/ids.ts";
import { createKafka } from "../../lib/kafka/client.ts";
import { KafkaPublisher, type OutgoingMessage } from "../../lib/kafka/publisher.ts";
import type { Log } from "../../lib/logging.ts";
import { type DrainSettings, OutboxDrain } from "../../lib/outbox/drain.ts";
import { OutboxRepository } from "../../lib/outbox/outbox-repository.ts";
import type { PublishTracer } from "../../lib/outbox/publish-tracer.ts";
import type { KafkaClientEnv } from "../../tools/local-services/kafka.ts";
import { sharedKafkaEnv, testKafka } from "./kafka-topics.ts";
import { type LedgerFixture, ledgerFixture } from "./ledger.ts";

export const validators: EventValidators = createEventValidators();

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private current = new Date()) {}
  now(): Date {
    return new Date(this.current);
  }
  set(at: Date): void {
    this.current = new Date(at);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export const realClock: Clock = { now: () => new Date() };

/**
 * A publisher on its own Kafka client, as a separate Lambda container would
 * have: the broker's client settings (`kafka`), and any of lib/config.ts's on top.
 */
export function testPublisher(kafka: KafkaClientEnv, env: Record<string, string> = {}): KafkaPublisher {
  return new KafkaPublisher(createKafka(kafkaConfig({ ...kafka, KAFKA_LOG_LEVEL: "nothing", ...env })));
}

export function drainSettings(topicPrefix: string, overrides: Partial<DrainSettings> = {}): DrainSettings {
  return { ...outboxConfig({ OUTBOX_TOPIC_PREFIX: topicPrefix }), ...overrides };
}

export function deadLetterService(
  pool: Pool,
  kafka: KafkaClientEnv,
  dlqTopic: string,
  clock: Clock = realClock,
) {
  const publisher = testPublisher(kafka);
  const service = new DeadLetterService({
    repository: new DeadLetterRepository(pool),
    publisher,
    validators,
    clock,
    dlqTopic,
  });
  return { service, publisher };
}

/** Calls the deadLetter library function in-process, and remembers what it was given. */
export class InProcessDeadLetters implements DeadLetterInvoker {
  readonly handedOver: DeadLetterRequest[] = [];
  constructor(private readonly service: DeadLetterService) {}
  async deadLetter(request: DeadLetterRequest): Promise<void> {
    this.handedOver.push(request);
    await this.service.handle(request);
  }
}

export interface TestDrain {
  drain: OutboxDrain;
  publisher: KafkaPublisher;
}

export function testDrain(options: {
  pool: Pool;
  kafka: KafkaClientEnv;
  settings: DrainSettings;
  deadLetters: DeadLetterInvoker;
  clock?: Clock;
  name?: string;
  kafkaEnv?: Record<string, string>;
  publishTracer?: PublishTracer;
  log?: Log;
  /** Told of every send Kafka acknowledged, with its messages, as soon as it was. */
  onAcknowledged?: (messages: readonly OutgoingMessage[]) => void;
}): TestDrain {
  const publisher = testPublisher(options.kafka, options.kafkaEnv);
  const { onAcknowledged } = options;
  const drain = new OutboxDrain({
    repository: new OutboxRepository(options.pool),
    publisher: onAcknowledged
      ? {
          publish: async (messages) => {
            await publisher.publish(messages);
            onAcknowledged(messages);
          },
          close: () => publisher.close(),
        }
      : publisher,
    deadLetters: options.deadLetters,
    validators,
    clock: options.clock ?? realClock,
    config: options.settings,
    ...(options.name ? { name: options.name } : {}),
    ...(options.publishTracer ? { publishTracer: options.publishTracer } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  return { drain, publisher };
}

/**
 * A drain on the file's database and broker whose dead letters go in-process
 * to the deadLetter service, publishing to `${prefix}.dlq`. Both publishers
 * close with the file.
 */
export function drainWithDeadLetters(
  ctx: OutboxTestContext,
  prefix: string,
  options: { settings?: DrainSettings; publishTracer?: PublishTracer } = {},
): { drain: OutboxDrain; dlqTopic: string; deadLetters: InProcessDeadLetters } {
  const dlqTopic = `${prefix}.dlq`;
  const { service, publisher: dlqPublisher } = deadLetterService(ctx.fx.pool, ctx.kafkaEnv, dlqTopic);
  const deadLetters = new InProcessDeadLetters(service);
  const { drain, publisher } = testDrain({
    pool: ctx.fx.pool,
    kafka: ctx.kafkaEnv,
    settings: options.settings ?? drainSettings(prefix),
    deadLetters,
    ...(options.publishTracer ? { publishTracer: options.publishTracer } : {}),
  });
  ctx.closers.push(
    () => publisher.close(),
    () => dlqPublisher.close(),
  );
  return { drain, dlqTopic, deadLetters };
}

export interface NewOutboxEvent {
  aggregateId: string;
  /** Defaults to a valid PaymentAuthorized payload for the aggregate; anything else tests what the drain refuses. */
  payload?: PaymentAuthorizedPayload | PaymentDeclinedPayload | unknown;
  /** Defaults to PaymentAuthorized. */
  eventType?: string;
  /** Defaults to Payment; 'payment' is what releases before the contract wrote. */
  aggregateType?: string;
}

export function declinedPayload(paymentId: string): PaymentDeclinedPayload {
  return {
    payment_id: paymentId,
    payer_account_id: newId(),
    payee_account_id: newId(),
    amount_cents: 1_000_000,
    currency: "EUR",
    error_code: "INSUFFICIENT_FUNDS",
    error_message: "payer account has insufficient funds",
  };
}

/** Every line a drain or the dead-letter function logged, to assert on what operators would see. */
export class RecordingLog implements Log {
  readonly lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  debug = (message: string, ...a: Record<string, unknown>[]) => this.record("debug", message, a);
  info = (message: string, ...a: Record<string, unknown>[]) => this.record("info", message, a);
  warn = (message: string, ...a: Record<string, unknown>[]) => this.record("warn", message, a);
  error = (message: string, ...a: Record<string, unknown>[]) => this.record("error", message, a);

  private record(level: string, message: string, attributes: Record<string, unknown>[]): void {
    this.lines.push({ level, message, attributes: Object.assign({}, ...attributes) });
  }

  errors(): { message: string; attributes: Record<string, unknown> }[] {
    return this.lines.filter((line) => line.level === "error");
  }
}

export function authorizedPayload(paymentId: string, description = "test"): PaymentAuthorizedPayload {
  return {
    payment_id: paymentId,
    payer_account_id: newId(),
    payee_account_id: newId(),
    amount_cents: 100,
    currency: "EUR",
    description,
  };
}

/** A valid payload of any event type for the aggregate (a payment), as the ledger would write it. */
export function payloadOf(eventType: EventType, paymentId: string): Record<string, unknown> {
  const parties = {
    payment_id: paymentId,
    payer_account_id: "01KKNW9R2KF7H3N5P9S1W4Y6AB",
    payee_account_id: "01KKNW9R2M8B4TQ6D0X1C3V5ZE",
    amount_cents: 100,
    currency: "EUR",
  };
  const expiresAt = "2026-03-21T09:30:12.418Z";
  const refundId = newId();
  const payloads: Record<EventType, Record<string, unknown>> = {
    PaymentAuthorized: { ...parties, description: "" },
    PaymentDeclined: { ...parties, error_code: "INSUFFICIENT_FUNDS", error_message: "short" },
    PaymentHeld: { ...parties, description: "", expires_at: expiresAt },
    PaymentCaptured: { ...parties, released_amount_cents: 0 },
    PaymentVoided: parties,
    PaymentExpired: { ...parties, expires_at: expiresAt },
    PaymentRefunded: { ...parties, refund_id: refundId, refunded_amount_cents: 100, description: "" },
    PaymentRefundDeclined: {
      ...parties,
      refund_id: refundId,
      error_code: "EXCEEDS_REFUNDABLE",
      error_message: "at most 0",
    },
  };
  return payloads[eventType];
}

/** A valid PaymentAuthorized message, as the drain would send it. */
export function authorizedEvent(payload: Partial<PaymentAuthorizedPayload> = {}): PaymentAuthorized {
  const paymentId = payload.payment_id ?? newId();
  return {
    event_id: newId(),
    aggregate_type: "Payment",
    aggregate_id: paymentId,
    event_type: "PaymentAuthorized",
    payload: { ...authorizedPayload(paymentId), ...payload },
    timestamp: new Date().toISOString(),
  };
}

/** Inserts outbox rows directly (fast), in the given order; returns their ids in seq order. */
export async function insertOutboxEvents(pool: Pool, events: NewOutboxEvent[]): Promise<string[]> {
  const ids = events.map(() => newId());
  await pool.query(
    `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
     SELECT id, aggregate_type, aggregate_id, event_type, payload
     FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[])
       WITH ORDINALITY AS e(id, aggregate_id, event_type, payload, aggregate_type, n)
     ORDER BY n`,
    [
      ids,
      events.map((e) => e.aggregateId),
      events.map((e) => e.eventType ?? "PaymentAuthorized"),
      events.map((e) =>
        JSON.stringify(e.payload === undefined ? authorizedPayload(e.aggregateId) : e.payload),
      ),
      events.map((e) => e.aggregateType ?? "Payment"),
    ],
  );
  return ids;
}

export interface OutboxRow {
  seq: bigint;
  id: string;
  aggregate_id: string;
  event_type: string;
  attempts: number;
  next_attempt_at: Date;
  claimed_by: string | null;
  published_at: Date | null;
  dead_lettered_at: Date | null;
  last_error: string | null;
}

export async function outboxRows(pool: Pool): Promise<OutboxRow[]> {
  const { rows } = await pool.query<OutboxRow>(
    `SELECT seq, id, aggregate_id, event_type, attempts, next_attempt_at, claimed_by, published_at,
            dead_lettered_at, last_error
     FROM outbox ORDER BY seq`,
  );
  return rows;
}

export interface OutboxTestContext {
  /** A fresh, migrated ledger database for this test file (set in beforeAll). */
  fx: LedgerFixture;
  /** A client of the shared broker (set in beforeAll). */
  kafka: Kafka;
  /** How to reach the shared broker (its client settings). */
  kafkaEnv: KafkaClientEnv;
  /** Run after the file's tests, last registered first, before the database closes. */
  closers: (() => Promise<unknown>)[];
}

/**
 * The set-up every outbox test file shares: registers beforeAll/afterAll that
 * open a fresh database and a broker client and close what the tests opened.
 */
export function outboxTestContext(options: { poolMax?: number } = {}): OutboxTestContext {
  const context = { kafkaEnv: sharedKafkaEnv(), closers: [] } as unknown as OutboxTestContext;
  beforeAll(async () => {
    context.fx = await ledgerFixture(options);
    context.kafka = testKafka(context.kafkaEnv);
  });
  afterAll(async () => {
    for (const close of context.closers.reverse()) await close();
    await context.fx?.close();
  });
  return context;
}
