/**
 * What payments.dlq carries for an event that could not be delivered
 * (schemas/dead_letter.json, the replaced system's shape): the event's own
 * envelope fields, flat, plus retry_count, failed_at and error.
 */
import type { DeadLetter, EventEnvelope } from "./contract.ts";
import type { EventValidators } from "./validators.ts";

export interface DeadLetterFailure {
  error: string;
  /** RFC 3339, UTC */
  failedAt: string;
  /** Delivery attempts Kafka refused. */
  retryCount: number;
}

/** A dead letter of an event that met the contract (Kafka refused it for its own reasons). */
export function deadLetterOf(event: EventEnvelope, failure: DeadLetterFailure): DeadLetter {
  return {
    event_id: event.event_id,
    aggregate_type: event.aggregate_type,
    aggregate_id: event.aggregate_id,
    event_type: event.event_type,
    payload: event.payload,
    timestamp: event.timestamp,
    retry_count: failure.retryCount,
    failed_at: failure.failedAt,
    error: failure.error,
  };
}

type EnvelopeField = "aggregate_type" | "aggregate_id" | "event_type" | "payload" | "timestamp";

function jsonKind(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `the ${typeof value} ${JSON.stringify(value)}`.slice(0, 80);
}

/**
 * A dead letter of an event as it was stored, which may break the contract
 * (that can be why it is dead). payments.dlq's consumers validate every
 * message against dead_letter.json, so a dead letter that broke it would fail
 * them in turn, and a dead letter must never be refused for the very fault it
 * reports. So each envelope field the stored event cannot give validly is
 * replaced, and the error says which and what it held:
 *
 *   aggregate_type, aggregate_id, event_type   "" (unknown)
 *   payload     {} (a JSON array, string, number or null is no object)
 *   timestamp   failed_at (the event was written before it failed)
 *
 * Nothing is lost: the outbox keeps the row as written (dead-lettered rows
 * stay until redriven), and a redrive sends it from there. Fields of the
 * failure itself (event_id, retry_count, failed_at, error) are never
 * replaced: ours to set, they are always valid; a hand-off that breaks them
 * is refused whole.
 */
export function salvageDeadLetter(
  validators: EventValidators,
  eventId: string,
  stored: Partial<Record<EnvelopeField, unknown>>,
  failure: DeadLetterFailure,
): DeadLetter {
  const fallback: Record<EnvelopeField, unknown> = {
    aggregate_type: "",
    aggregate_id: "",
    event_type: "",
    payload: {},
    timestamp: failure.failedAt,
  };
  const letter: Record<string, unknown> = {
    event_id: eventId,
    aggregate_type: stored.aggregate_type,
    aggregate_id: stored.aggregate_id,
    event_type: stored.event_type,
    payload: stored.payload,
    timestamp: stored.timestamp,
    retry_count: failure.retryCount,
    failed_at: failure.failedAt,
    error: failure.error,
  };
  const check = validators.deadLetter(letter);
  if (check.ok) return check.value;
  const replaced: string[] = [];
  for (const field of check.fields) {
    if (!Object.hasOwn(fallback, field)) continue;
    const key = field as EnvelopeField;
    replaced.push(`${key} (stored: ${jsonKind(stored[key])}) as ${JSON.stringify(fallback[key])}`);
    letter[key] = fallback[key];
  }
  // Only a valid error is annotated: one that is not a string stays invalid, for the caller to refuse.
  if (replaced.length > 0 && typeof failure.error === "string" && failure.error !== "")
    letter.error = `${failure.error}; the dead letter carries ${replaced.join(", ")}`;
  return letter as unknown as DeadLetter;
}

/**
 * What the drain hands the dead-letter function: the dead letter, plus the
 * event's trace. The trace travels beside the dead letter, not in it: the
 * dead letter is what payments.dlq carries, and its schema is a contract.
 */
export type DeadLetterRequest = DeadLetter & { traceparent?: string };

export function deadLetterRequest(letter: DeadLetter, traceparent: string | undefined): DeadLetterRequest {
  return traceparent === undefined ? letter : { ...letter, traceparent };
}

/**
 * Splits what the dead-letter function was handed into the dead letter (still
 * to be validated) and the trace. A trace field that is not a string is
 * dropped: a dead letter is never refused over its trace.
 */
export function splitDeadLetterRequest(input: unknown): {
  letter: unknown;
  traceparent: string | undefined;
} {
  if (typeof input !== "object" || input === null || Array.isArray(input) || !("traceparent" in input)) {
    return { letter: input, traceparent: undefined };
  }
  const { traceparent, ...letter } = input as Record<string, unknown>;
  return { letter, traceparent: typeof traceparent === "string" ? traceparent : undefined };
}
