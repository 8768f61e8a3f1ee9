import type { Pool, PoolClient } from "../db/pool.ts";
import { withTransaction } from "../db/transaction.ts";
import type { DeadLetterEnvelope, EventEnvelope } from "../events/envelope.ts";
import type { EventValidators } from "../events/validators.ts";
import type { TraceContext } from "../observability/trace-context.ts";

export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  value: Buffer | null;
  /** This consumer's span: a child of the message's traceparent (or a new trace without one). */
  trace?: TraceContext;
}

export type ConsumedEvent =
  | { kind: "event"; eventId: string; envelope: EventEnvelope }
  | { kind: "dead-letter"; eventId: string; envelope: DeadLetterEnvelope };

export type ProcessResult =
  | { status: "processed" | "duplicate"; event: ConsumedEvent }
  | { status: "invalid"; reason: string };

/** The consumer's own work, done in the transaction that records the event id. */
export type InboxEffect = (client: PoolClient, event: ConsumedEvent) => Promise<void>;

const CLAIM_SQL = `
  INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (consumer, event_id) DO NOTHING`;

/**
 * Exactly-once processing on top of at-least-once delivery: the event id goes
 * into the inbox in the same transaction as the effect, so a redelivered
 * event (same id, any offset) finds its row and is skipped. Offsets are
 * committed after this returns; a crash in between only causes a redelivery,
 * which is skipped here.
 */
export class InboxProcessor {
  constructor(
    private readonly pool: Pool,
    private readonly consumer: string,
    private readonly validators: EventValidators,
    private readonly dlqTopic: string,
    private readonly effect: InboxEffect,
  ) {}

  async process(message: InboundMessage): Promise<ProcessResult> {
    const parsed = this.parse(message);
    if ("reason" in parsed) return { status: "invalid", reason: parsed.reason };
    const event = parsed.event;

    return withTransaction(this.pool, async (client) => {
      const claimed = await client.query(CLAIM_SQL, [
        this.consumer,
        event.eventId,
        message.topic,
        message.partition,
        message.offset,
      ]);
      // A duplicate wrote nothing: committing it is as good as rolling back.
      if (claimed.rowCount === 0) return { status: "duplicate", event };
      await this.effect(client, event);
      return { status: "processed", event };
    });
  }

  private parse(message: InboundMessage): { event: ConsumedEvent } | { reason: string } {
    let value: unknown;
    try {
      value = JSON.parse(message.value?.toString("utf8") ?? "");
    } catch {
      return { reason: "value is not JSON" };
    }
    if (message.topic === this.dlqTopic) {
      const check = this.validators.deadLetter(value);
      if (!check.ok) return { reason: `not a dead letter: ${check.error}` };
      const envelope = value as DeadLetterEnvelope;
      return { event: { kind: "dead-letter", eventId: envelope.event_id, envelope } };
    }
    const check = this.validators.envelope(value);
    if (!check.ok) return { reason: `not a valid event: ${check.error}` };
    const envelope = value as EventEnvelope;
    return { event: { kind: "event", eventId: envelope.event_id, envelope } };
  }
}
