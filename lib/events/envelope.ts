/**
 * An outbox row's event as it goes on the wire: the envelope's six fields
 * (schemas/event_envelope.json), flat, and nothing else. What more a message
 * says (its schema name, its trace) goes in Kafka headers (lib/kafka/messages.ts).
 */

/** An outbox row's event fields as stored; the payload is whatever JSON the row holds. */
export interface StoredEvent {
  id: string;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  payload: unknown;
  /** RFC 3339, UTC: the row's created_at. */
  createdAt: string;
}

/** The envelope's fields before they are checked against the contract. */
export interface UncheckedEnvelope {
  event_id: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  payload: unknown;
  timestamp: string;
}

export function toEnvelope(event: StoredEvent): UncheckedEnvelope {
  return {
    event_id: event.id,
    aggregate_type: event.aggregateType,
    aggregate_id: event.aggregateId,
    event_type: event.eventType,
    payload: event.payload,
    timestamp: event.createdAt,
  };
}
