/**
 * Dev-only: runs the sample consumer (lib/consumer: inbox, exactly-once
 * effect) on the payment topics and hands each event it reads to the page's
 * subscribers, each of whom sees only the payments the api would let them
 * read (lib/api/access-policy.ts: the payer's or payee's owner, operators
 * for system accounts). Events go out in the order they were read, a late
 * subscriber first gets the last ones it may see, and the outbox lag is
 * sampled so a stalled drain is visible on the page.
 */
import type { Kafka } from "kafkajs";
import type { AccessPolicy } from "../../lib/api/access-policy.ts";
import type { Principal } from "../../lib/auth/principal.ts";
import { createEventTotalsTable, eventTotalsEffect } from "../../lib/consumer/event-totals.ts";
import {
  type ConsumerTopics,
  type InboundMessage,
  InboxProcessor,
  type ProcessResult,
  subscribedTopics,
} from "../../lib/consumer/inbox.ts";
import { assertTopicsExist, startInboxConsumer } from "../../lib/consumer/run.ts";
import type { Pool } from "../../lib/db/pool.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { OutboxRepository } from "../../lib/outbox/outbox-repository.ts";
import type { Payment } from "../../lib/payments/model.ts";
import type { FeedEvent, OutboxStatus } from "../src/dev-session.ts";

/** Replayed to a subscriber who connects later (a reload must not empty the list). */
const REMEMBERED = 100;
const LAG_SAMPLE_MS = 2000;

/** What the access policy decides on: the payment's two accounts. */
type Parties = Pick<Payment, "payerAccountId" | "payeeAccountId">;

export interface EventFeedOptions {
  kafka: Kafka;
  pool: Pool;
  groupId: string;
  topics: ConsumerTopics;
  /** The api's access policy: who may read which payment. */
  access: AccessPolicy;
  /** The payment an event is about, as the ledger holds it; undefined when there is none. */
  findPayment(paymentId: string): Promise<Parties | undefined>;
}

export interface FeedListener {
  event(event: FeedEvent): void;
  outbox(status: OutboxStatus): void;
}

export interface EventFeed {
  /** Starts sending `principal`'s events to `listener`; the returned function stops it. */
  subscribe(principal: Principal, listener: FeedListener): () => void;
  stop(): Promise<void>;
}

interface SeenEvent {
  event: FeedEvent;
  /** Undefined: no such payment in the ledger (a foreign or poison event), shown to nobody. */
  parties: Parties | undefined;
}

export async function startEventFeed(options: EventFeedOptions): Promise<EventFeed> {
  const remembered: SeenEvent[] = [];
  // Live subscribers, past their replay.
  const subscribers = new Map<FeedListener, Principal>();
  // Everyone subscribed, replay included, until they unsubscribe.
  const listening = new Set<FeedListener>();
  // Reading an event, deciding who sees it and replaying to a new subscriber
  // run one at a time, in order: nobody gets events out of order or twice.
  let queue: Promise<void> = Promise.resolve();
  const inOrder = (task: () => Promise<void>) => {
    queue = queue.then(task).catch(() => undefined);
  };
  const processor = new InboxProcessor({
    pool: options.pool,
    consumer: options.groupId,
    validators: createEventValidators(),
    topics: options.topics,
    effect: eventTotalsEffect(options.groupId),
  });
  const topics = subscribedTopics(options.topics);

  const deliver = async (seen: SeenEvent, principal: Principal, listener: FeedListener) => {
    if (!seen.parties) return;
    // A failed lookup shows nothing: the page misses a line, nobody sees another's payment.
    const allowed = await options.access.mayReadPayment(principal, seen.parties).catch(() => false);
    // The subscriber may have gone (its stream ended) while the policy looked.
    if (allowed && listening.has(listener)) listener.event(seen.event);
  };

  const publish = async (result: ProcessResult, message: InboundMessage) => {
    const event = toFeedEvent(result, message);
    if (!event) return;
    const seen = { event, parties: await options.findPayment(event.paymentId).catch(() => undefined) };
    remembered.push(seen);
    if (remembered.length > REMEMBERED) remembered.shift();
    for (const [listener, principal] of [...subscribers]) await deliver(seen, principal, listener);
  };

  // The sample consumer's demo table is not part of the schema: it brings its own.
  await createEventTotalsTable(options.pool);
  await assertTopicsExist(options.kafka, topics);
  const consumer = await startInboxConsumer({
    kafka: options.kafka,
    groupId: options.groupId,
    topics,
    processor,
    fromBeginning: true,
    // The event is processed and committed by now; showing it is all that is left.
    onResult: (result, message) => inOrder(() => publish(result, message)),
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
    subscribe(principal, listener) {
      listening.add(listener);
      inOrder(async () => {
        for (const seen of [...remembered]) {
          if (!listening.has(listener)) return;
          await deliver(seen, principal, listener);
        }
        if (!listening.has(listener)) return;
        // Live from here on; the first outbox status marks the end of the replay.
        subscribers.set(listener, principal);
        listener.outbox(lag);
      });
      return () => {
        listening.delete(listener);
        subscribers.delete(listener);
      };
    },
    async stop() {
      clearInterval(lagTimer);
      listening.clear();
      subscribers.clear();
      await consumer.disconnect();
      await queue;
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
  if (result.status === "rejected") return undefined;
  const consumed = result.event;
  // A dead letter's payload is whatever the event held: read field by field.
  const payload: unknown = consumed.kind === "event" ? consumed.event.payload : consumed.letter.payload;
  const amount = field(payload, "amount_cents");
  return {
    consumer: result.status,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    eventId: consumed.eventId,
    eventType: consumed.kind === "event" ? consumed.event.event_type : "DeadLetter",
    paymentId: text(field(payload, "payment_id")),
    payerAccountId: text(field(payload, "payer_account_id")),
    payeeAccountId: text(field(payload, "payee_account_id")),
    amountCents: typeof amount === "number" && Number.isSafeInteger(amount) ? String(amount) : "0",
    currency: text(field(payload, "currency")),
    ...(consumed.kind === "dead-letter"
      ? { reason: consumed.letter.error }
      : // Every decline (a payment's, a refund's) says why in error_code and error_message.
        "error_code" in consumed.event.payload
        ? { reason: `${consumed.event.payload.error_code}: ${text(field(payload, "error_message"))}` }
        : {}),
    receivedAt: new Date().toISOString(),
  };
}
