/**
 * Dev-only: runs the sample consumer (lib/consumer: inbox, exactly-once
 * effect) on the payment topics and hands each event it reads to the page's
 * subscribers, each of whom sees only events of accounts their subject owns.
 * Also samples the outbox lag, so a stalled drain is visible on the page.
 */
import type { Kafka } from "kafkajs";
import { createEventTotalsTable, eventTotalsEffect } from "../../lib/consumer/event-totals.ts";
import { type InboundMessage, InboxProcessor, type ProcessResult } from "../../lib/consumer/inbox.ts";
import { assertTopicsExist, startInboxConsumer } from "../../lib/consumer/run.ts";
import type { Pool } from "../../lib/db/pool.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { OutboxRepository } from "../../lib/outbox/outbox-repository.ts";
import type { FeedEvent, OutboxStatus } from "../src/dev-session.ts";

/** Replayed to a subscriber who connects later (a reload must not empty the list). */
const REMEMBERED = 100;
const LAG_SAMPLE_MS = 2000;

const OWNERS_SQL = "SELECT id, owner FROM accounts WHERE id = ANY($1)";

export interface EventFeedOptions {
  kafka: Kafka;
  pool: Pool;
  groupId: string;
  topics: string[];
  dlqTopic: string;
}

export interface FeedListener {
  event(event: FeedEvent): void;
  outbox(status: OutboxStatus): void;
}

export interface EventFeed {
  subscribe(subject: string, listener: FeedListener): () => void;
  stop(): Promise<void>;
}

interface OwnedEvent {
  event: FeedEvent;
  owners: Set<string>;
}

export async function startEventFeed(options: EventFeedOptions): Promise<EventFeed> {
  const remembered: OwnedEvent[] = [];
  const subscribers = new Map<FeedListener, string>();
  const processor = new InboxProcessor(
    options.pool,
    options.groupId,
    createEventValidators(),
    options.dlqTopic,
    eventTotalsEffect(options.groupId),
  );

  const publish = async (result: ProcessResult, message: InboundMessage) => {
    const event = toFeedEvent(result, message);
    if (!event) return;
    const { rows } = await options.pool.query<{ id: string; owner: string }>(OWNERS_SQL, [
      [event.payerAccountId, event.payeeAccountId],
    ]);
    const owned = { event, owners: new Set(rows.map((row) => row.owner)) };
    remembered.push(owned);
    if (remembered.length > REMEMBERED) remembered.shift();
    for (const [listener, subject] of subscribers) if (owned.owners.has(subject)) listener.event(event);
  };

  // The sample consumer's demo table is not part of the schema: it brings its own.
  await createEventTotalsTable(options.pool);
  await assertTopicsExist(options.kafka, options.topics);
  const consumer = await startInboxConsumer({
    kafka: options.kafka,
    groupId: options.groupId,
    topics: options.topics,
    processor,
    fromBeginning: true,
    onResult: (result, message) => {
      // The event is processed and committed by now; a failed owner lookup only costs the page a line.
      publish(result, message).catch(() => undefined);
    },
  });

  const outbox = new OutboxRepository(options.pool);
  let lag: OutboxStatus = { lagMs: 0 };
  const sampleLag = async () => {
    const oldest = await outbox.oldestPendingCreatedAt().catch(() => undefined);
    lag = { lagMs: oldest ? Math.max(0, Date.now() - oldest.getTime()) : 0 };
    for (const listener of subscribers.keys()) listener.outbox(lag);
  };
  const lagTimer = setInterval(() => void sampleLag(), LAG_SAMPLE_MS);

  return {
    subscribe(subject, listener) {
      subscribers.set(listener, subject);
      for (const owned of remembered) if (owned.owners.has(subject)) listener.event(owned.event);
      listener.outbox(lag);
      return () => subscribers.delete(listener);
    },
    async stop() {
      clearInterval(lagTimer);
      subscribers.clear();
      await consumer.disconnect();
    },
  };
}

function field(source: unknown, name: string): unknown {
  return typeof source === "object" && source !== null
    ? (source as Record<string, unknown>)[name]
    : undefined;
}

const text = (value: unknown): string => (typeof value === "string" ? value : "");

function toFeedEvent(result: ProcessResult, message: InboundMessage): FeedEvent | undefined {
  if (result.status === "invalid") return undefined;
  const consumed = result.event;
  const envelope = consumed.kind === "event" ? consumed.envelope : consumed.envelope.event;
  const payload = field(envelope, "payload");
  const amount = field(payload, "amount_cents");
  return {
    consumer: result.status,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    eventId: consumed.eventId,
    eventType: consumed.kind === "event" ? consumed.envelope.event_type : "DeadLetter",
    paymentId: text(field(payload, "payment_id")),
    payerAccountId: text(field(payload, "payer_account_id")),
    payeeAccountId: text(field(payload, "payee_account_id")),
    amountCents: typeof amount === "number" && Number.isSafeInteger(amount) ? String(amount) : "0",
    currency: text(field(payload, "currency")),
    ...(consumed.kind === "dead-letter"
      ? { reason: consumed.envelope.error }
      : field(payload, "reason")
        ? { reason: `${text(field(payload, "reason_code"))}: ${text(field(payload, "reason"))}` }
        : {}),
    receivedAt: new Date().toISOString(),
  };
}
