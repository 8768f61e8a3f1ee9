/**
 * Rows written before the events met the replaced system's contract, read
 * into it. Releases before it stored:
 *
 *   outbox.aggregate_type     'payment' (the contract says 'Payment')
 *   PaymentAuthorized payload with authorized_at (not in the contract)
 *   PaymentDeclined payload   reason_code, reason, declined_at (the contract
 *                             says error_code, error_message; no time)
 *   dead_letters.event        the old envelope: occurred_at for timestamp,
 *                             plus schema and version
 *   a dead-letter hand-off    the event nested under `event`
 *
 * Such rows may be pending in an outbox when this release ships, put back by
 * a redrive, or handed to the dead-letter function by a drain of the
 * previous release while the deploy rolls out (Lambda retries an async
 * invocation for hours). They are rewritten as they are read, not by a
 * migration, because the previous release's ledger function keeps writing
 * the old shape until the new one replaces it: a migration would miss
 * whatever was written after it ran.
 *
 * Each rewrite applies only to the exact old shape: anything else is left
 * as it is, for the schemas to judge. This module can go once no outbox or
 * dead_letters row holds the old shape:
 *
 *   SELECT count(*) FROM outbox WHERE published_at IS NULL AND aggregate_type = 'payment';
 *   SELECT count(*) FROM dead_letters WHERE redriven_at IS NULL AND event ? 'occurred_at';
 */
import type { StoredEvent } from "./envelope.ts";

const OLD_AGGREGATE_TYPE = "payment";
const AGGREGATE_TYPE = "Payment";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function upgradePayload(eventType: unknown, payload: unknown): unknown {
  if (!isObject(payload)) return payload;
  if (eventType === "PaymentAuthorized" && "authorized_at" in payload) {
    const { authorized_at: _, ...rest } = payload;
    return rest;
  }
  if (
    eventType === "PaymentDeclined" &&
    "reason_code" in payload &&
    "reason" in payload &&
    !("error_code" in payload) &&
    !("error_message" in payload)
  ) {
    const { reason_code, reason, declined_at: _, ...rest } = payload;
    return { ...rest, error_code: reason_code, error_message: reason };
  }
  return payload;
}

function upgradeAggregateType(aggregateType: unknown): unknown {
  return aggregateType === OLD_AGGREGATE_TYPE ? AGGREGATE_TYPE : aggregateType;
}

/** An outbox row in the old shape, as the contract has it; any other row unchanged. */
export function upgradeStoredEvent<T extends StoredEvent>(event: T): T {
  const aggregateType = upgradeAggregateType(event.aggregateType) as string;
  const payload = upgradePayload(event.eventType, event.payload);
  if (aggregateType === event.aggregateType && payload === event.payload) return event;
  return { ...event, aggregateType, payload };
}

/**
 * The envelope fields of a stored dead letter's event (dead_letters.event):
 * this release stores them as sent; older ones stored the old envelope.
 */
export function storedEnvelopeFields(event: unknown): Record<string, unknown> {
  if (!isObject(event)) return {};
  const timestamp = "timestamp" in event ? event.timestamp : event.occurred_at;
  return {
    aggregate_type: upgradeAggregateType(event.aggregate_type),
    aggregate_id: event.aggregate_id,
    event_type: event.event_type,
    payload: upgradePayload(event.event_type, event.payload),
    timestamp,
  };
}

/** A dead-letter hand-off of the previous release: `{ event_id, event: {…}, retry_count, failed_at, error }`. */
export interface OldDeadLetterHandOff {
  event_id: unknown;
  event: Record<string, unknown>;
  retry_count: unknown;
  failed_at: unknown;
  error: unknown;
}

export function isOldDeadLetterHandOff(value: unknown): value is OldDeadLetterHandOff {
  return isObject(value) && isObject(value.event) && !("payload" in value);
}
