import type { DeadLetterEnvelope, EventEnvelope } from "../events/envelope.ts";
import { DEAD_LETTER_EVENT_TYPE, DEAD_LETTER_SCHEMA, PAYMENT_EVENT_TYPES } from "../events/types.ts";
import { TRACEPARENT_HEADER } from "../observability/trace-context.ts";
import type { OutgoingMessage } from "./publisher.ts";

/** Header names every message carries, so consumers can dedupe and route without parsing the value. */
export const HEADER_EVENT_ID = "event_id";
export const HEADER_EVENT_TYPE = "event_type";
export const HEADER_SCHEMA = "schema";

/** payments.paymentauthorized for PaymentAuthorized: the names the replaced system used. */
export function topicFor(prefix: string, eventType: string): string {
  return `${prefix}.${eventType.toLowerCase()}`;
}

/**
 * Every topic the system writes: one per event type, named as the drain names
 * them, and the dead-letter topic. A new event type brings its topic along.
 */
export function ledgerTopics(outbox: { topicPrefix: string; dlqTopic: string }): string[] {
  return [...PAYMENT_EVENT_TYPES.map((type) => topicFor(outbox.topicPrefix, type)), outbox.dlqTopic];
}

/** Keyed by aggregate id: one aggregate's events share a partition, hence an order. */
export function eventMessage(prefix: string, envelope: EventEnvelope, traceparent: string): OutgoingMessage {
  return {
    topic: topicFor(prefix, envelope.event_type),
    key: envelope.aggregate_id,
    value: JSON.stringify(envelope),
    headers: {
      [HEADER_EVENT_ID]: envelope.event_id,
      [HEADER_EVENT_TYPE]: envelope.event_type,
      [HEADER_SCHEMA]: envelope.schema,
      [TRACEPARENT_HEADER]: traceparent,
    },
  };
}

export function deadLetterMessage(
  topic: string,
  envelope: DeadLetterEnvelope,
  traceparent: string,
): OutgoingMessage {
  const aggregateId = envelope.event.aggregate_id;
  return {
    topic,
    // The original aggregate when known, so its dead letters stay in order too.
    key: typeof aggregateId === "string" && aggregateId !== "" ? aggregateId : envelope.event_id,
    value: JSON.stringify(envelope),
    headers: {
      [HEADER_EVENT_ID]: envelope.event_id,
      [HEADER_EVENT_TYPE]: DEAD_LETTER_EVENT_TYPE,
      [HEADER_SCHEMA]: DEAD_LETTER_SCHEMA,
      [TRACEPARENT_HEADER]: traceparent,
    },
  };
}
