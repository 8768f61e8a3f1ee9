/** What goes on the wire for every payment event (schemas/envelope.json). */
export interface EventEnvelope {
  event_id: string;
  event_type: string;
  schema: string;
  aggregate_type: string;
  aggregate_id: string;
  occurred_at: string;
  version: 1;
  payload: Record<string, unknown>;
}

export interface DeadLetterEnvelope {
  event_id: string;
  /** The original envelope as it was; it may be why delivery failed. */
  event: Record<string, unknown>;
  retry_count: number;
  failed_at: string;
  error: string;
}

/**
 * What the drain hands the dead-letter function: the dead letter, plus the
 * event's trace. The trace travels beside the envelope, not in it: the
 * envelope is what payments.dlq carries, and its schema is a contract.
 */
export interface DeadLetterRequest extends DeadLetterEnvelope {
  traceparent?: string;
}

/** payment_authorized for PaymentAuthorized: the schema name consumers look up. */
export function schemaNameFor(eventType: string): string {
  return eventType.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

export interface OutboxEventFields {
  id: string;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  payload: Record<string, unknown>;
  createdAt: string;
}

export function toEnvelope(event: OutboxEventFields): EventEnvelope {
  return {
    event_id: event.id,
    event_type: event.eventType,
    schema: schemaNameFor(event.eventType),
    aggregate_type: event.aggregateType,
    aggregate_id: event.aggregateId,
    occurred_at: event.createdAt,
    version: 1,
    payload: event.payload,
  };
}

/** The event as stored, for a dead letter whose envelope could not be built. */
export function rawEventBody(
  event: Omit<OutboxEventFields, "payload"> & { payload: unknown },
): Record<string, unknown> {
  return {
    event_id: event.id,
    event_type: event.eventType,
    aggregate_type: event.aggregateType,
    aggregate_id: event.aggregateId,
    occurred_at: event.createdAt,
    payload: event.payload,
  };
}

export function deadLetterEnvelope(
  eventId: string,
  body: Record<string, unknown>,
  error: string,
  failedAt: string,
  retryCount: number,
): DeadLetterEnvelope {
  return { event_id: eventId, event: body, retry_count: retryCount, failed_at: failedAt, error };
}

export function deadLetterRequest(
  envelope: DeadLetterEnvelope,
  traceparent: string | undefined,
): DeadLetterRequest {
  return traceparent === undefined ? envelope : { ...envelope, traceparent };
}

/**
 * Splits what the dead-letter function was handed into the envelope (still
 * to be validated) and the trace. A trace field that is not a string is
 * dropped: a dead letter is never refused over its trace.
 */
export function splitDeadLetterRequest(input: unknown): {
  envelope: unknown;
  traceparent: string | undefined;
} {
  if (typeof input !== "object" || input === null || Array.isArray(input) || !("traceparent" in input)) {
    return { envelope: input, traceparent: undefined };
  }
  const { traceparent, ...envelope } = input as Record<string, unknown>;
  return { envelope, traceparent: typeof traceparent === "string" ? traceparent : undefined };
}
