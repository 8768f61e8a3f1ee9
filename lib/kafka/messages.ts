import type { DeadLetter } from "../events/contract.ts";
import { DEAD_LETTER_SCHEMA_NAME, EVENT_TYPES, type LedgerEvent, schemaNameOf } from "../events/contract.ts";
import { TRACEPARENT_HEADER } from "../observability/trace-context.ts";
import type { OutgoingMessage } from "./publisher.ts";

/**
 * Header names every message carries, so consumers can dedupe and route
 * without parsing the value. The value is the contract (schemas/) and
 * nothing more: whatever else a message says travels here.
 */
export const HEADER_EVENT_ID = "event_id";
/** The body's event_type (on payments.dlq: the dead event's type, as stored). */
export const HEADER_EVENT_TYPE = "event_type";
/** The schema the body validates against: payment_authorized, payment_declined, dead_letter. */
export const HEADER_SCHEMA = "schema";

/** payments.paymentauthorized for PaymentAuthorized: the names the replaced system used. */
export function topicFor(prefix: string, eventType: string): string {
  return `${prefix}.${eventType.toLowerCase()}`;
}

/** One topic per event type in schemas/, in the table's order. */
export function eventTopics(prefix: string): string[] {
  return EVENT_TYPES.map((type) => topicFor(prefix, type));
}

/**
 * Every topic the system writes: one per event type, named as the drain names
 * them, and the dead-letter topic. A new event type brings its topic along.
 */
export function ledgerTopics(outbox: { topicPrefix: string; dlqTopic: string }): string[] {
  return [...eventTopics(outbox.topicPrefix), outbox.dlqTopic];
}

/** Keyed by aggregate id: one aggregate's events share a partition, hence an order. */
export function eventMessage(prefix: string, event: LedgerEvent, traceparent: string): OutgoingMessage {
  return {
    topic: topicFor(prefix, event.event_type),
    key: event.aggregate_id,
    value: JSON.stringify(event),
    headers: {
      [HEADER_EVENT_ID]: event.event_id,
      [HEADER_EVENT_TYPE]: event.event_type,
      [HEADER_SCHEMA]: schemaNameOf(event.event_type),
      [TRACEPARENT_HEADER]: traceparent,
    },
  };
}

export function deadLetterMessage(topic: string, letter: DeadLetter, traceparent: string): OutgoingMessage {
  return {
    topic,
    // The original aggregate when known, so its dead letters stay in order too.
    key: letter.aggregate_id !== "" ? letter.aggregate_id : letter.event_id,
    value: JSON.stringify(letter),
    headers: {
      [HEADER_EVENT_ID]: letter.event_id,
      [HEADER_EVENT_TYPE]: letter.event_type,
      [HEADER_SCHEMA]: DEAD_LETTER_SCHEMA_NAME,
      [TRACEPARENT_HEADER]: traceparent,
    },
  };
}
