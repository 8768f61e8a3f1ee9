import type { Pool, PoolClient } from "../db/pool.ts";
import { withTransaction } from "../db/transaction.ts";
import type { DeadLetter, LedgerEvent } from "../events/contract.ts";
import type { EventValidators } from "../events/validators.ts";
import { HEADER_EVENT_ID, ledgerTopics, topicFor } from "../kafka/messages.ts";
import type { TraceContext } from "../observability/trace-context.ts";

export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** This consumer's span: a child of the message's traceparent (or a new trace without one). */
  trace?: TraceContext;
}

export type ConsumedEvent =
  | { kind: "event"; eventId: string; event: LedgerEvent }
  | { kind: "dead-letter"; eventId: string; letter: DeadLetter };

export type ProcessResult =
  | { status: "processed" | "duplicate"; event: ConsumedEvent }
  /** Not accepted, and kept in consumer_dead_letters with the reason (`recorded`: by this delivery). */
  | { status: "rejected"; reason: string; recorded: boolean };

/** The consumer's own work, done in the transaction that records the event id. */
export type InboxEffect = (client: PoolClient, event: ConsumedEvent) => Promise<void>;

/** The topics a consumer reads: one per event type under `prefix`, and the DLQ topic. */
export interface ConsumerTopics {
  prefix: string;
  dlq: string;
}

/** What a consumer subscribes to: every event type's topic (schemas/), then the DLQ. */
export function subscribedTopics(topics: ConsumerTopics): string[] {
  return ledgerTopics({ topicPrefix: topics.prefix, dlqTopic: topics.dlq });
}

export interface InboxOptions {
  pool: Pool;
  /** The consumer's name (its group id): inbox rows and dead letters are its own. */
  consumer: string;
  validators: EventValidators;
  topics: ConsumerTopics;
  effect: InboxEffect;
}

const CLAIM_SQL = `
  INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (consumer, event_id) DO NOTHING`;

const REJECT_SQL = `
  INSERT INTO consumer_dead_letters
    (consumer, topic, kafka_partition, kafka_offset, event_id, message_key, message_value, headers, reason)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  ON CONFLICT (consumer, topic, kafka_partition, kafka_offset) DO NOTHING`;

/**
 * Exactly-once processing on top of at-least-once delivery: the event id goes
 * into the inbox in the same transaction as the effect, so a redelivered
 * event (same id, any offset) finds its row and is skipped. Offsets are
 * committed after this returns; a crash in between only causes a redelivery,
 * which is skipped here.
 *
 * A message is accepted only if it is what its topic's contract says
 * (schemas/: the event type's schema on an event topic, dead_letter.json on
 * the DLQ topic). Anything else is recorded in consumer_dead_letters with the
 * reason, before its offset is committed: never processed, never just dropped.
 */
export class InboxProcessor {
  constructor(private readonly options: InboxOptions) {}

  async process(message: InboundMessage): Promise<ProcessResult> {
    const parsed = this.parse(message);
    if ("reason" in parsed) return this.reject(message, parsed.reason);
    const event = parsed.event;
    const { pool, consumer, effect } = this.options;

    return withTransaction(pool, async (client) => {
      const claimed = await client.query(CLAIM_SQL, [
        consumer,
        event.eventId,
        message.topic,
        message.partition,
        message.offset,
      ]);
      // A duplicate wrote nothing: committing it is as good as rolling back.
      if (claimed.rowCount === 0) return { status: "duplicate", event };
      await effect(client, event);
      return { status: "processed", event };
    });
  }

  private async reject(message: InboundMessage, reason: string): Promise<ProcessResult> {
    const { rowCount } = await this.options.pool.query(REJECT_SQL, [
      this.options.consumer,
      message.topic,
      message.partition,
      message.offset,
      message.headers[HEADER_EVENT_ID] ?? null,
      message.key,
      message.value,
      message.headers,
      reason,
    ]);
    return { status: "rejected", reason, recorded: (rowCount ?? 0) > 0 };
  }

  private parse(message: InboundMessage): { event: ConsumedEvent } | { reason: string } {
    let value: unknown;
    try {
      value = JSON.parse(message.value?.toString("utf8") ?? "");
    } catch {
      return { reason: "value is not JSON" };
    }
    const { validators, topics } = this.options;
    if (message.topic === topics.dlq) {
      const check = validators.deadLetter(value);
      if (!check.ok) return { reason: `not a valid dead letter: ${check.error}` };
      return { event: { kind: "dead-letter", eventId: check.value.event_id, letter: check.value } };
    }
    const check = validators.event(value);
    if (!check.ok) return { reason: `not a valid event: ${check.error}` };
    const own = topicFor(topics.prefix, check.value.event_type);
    if (message.topic !== own) return { reason: `a ${check.value.event_type} belongs on ${own}` };
    return { event: { kind: "event", eventId: check.value.event_id, event: check.value } };
  }
}
