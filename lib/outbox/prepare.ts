import { type EventEnvelope, rawEventBody, toEnvelope } from "../events/envelope.ts";
import type { EventValidators } from "../events/validators.ts";
import { eventMessage } from "../kafka/messages.ts";
import type { OutgoingMessage } from "../kafka/publisher.ts";
import { traceparentOrNew } from "../observability/trace-context.ts";
import type { ClaimedEvent } from "./outbox-repository.ts";

/** A claimed event ready to send. */
export interface Candidate {
  event: ClaimedEvent;
  envelope: EventEnvelope;
  message: OutgoingMessage;
}

/** A claimed event that can never be sent: it goes to the dead-letter function as it is. */
export interface Poison {
  event: ClaimedEvent;
  body: Record<string, unknown>;
  error: string;
}

/** Builds and validates each event's envelope; those that fail the schema are poison. */
export function prepareBatch(
  events: readonly ClaimedEvent[],
  validators: EventValidators,
  topicPrefix: string,
): { candidates: Candidate[]; poison: Poison[] } {
  const candidates: Candidate[] = [];
  const poison: Poison[] = [];
  for (const event of events) {
    const payload = event.payload;
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
      poison.push({ event, body: rawEventBody(event), error: "invalid event: payload is not a JSON object" });
      continue;
    }
    const envelope = toEnvelope({ ...event, payload: payload as Record<string, unknown> });
    const check = validators.envelope(envelope);
    if (!check.ok) {
      poison.push({ event, body: { ...envelope }, error: `invalid event: ${check.error}` });
      continue;
    }
    // The payment's trace; an event stored without one (or with a malformed one) starts its own.
    const message = eventMessage(topicPrefix, envelope, traceparentOrNew(event.traceparent));
    candidates.push({ event, envelope, message });
  }
  return { candidates, poison };
}
