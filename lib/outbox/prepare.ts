import type { LedgerEvent } from "../events/contract.ts";
import { toEnvelope, type UncheckedEnvelope } from "../events/envelope.ts";
import { upgradeStoredEvent } from "../events/legacy.ts";
import type { EventValidators } from "../events/validators.ts";
import { eventMessage } from "../kafka/messages.ts";
import type { OutgoingMessage } from "../kafka/publisher.ts";
import { traceparentOrNew } from "../observability/trace-context.ts";
import type { ClaimedEvent } from "./outbox-repository.ts";

/** A claimed event ready to send. */
export interface Candidate {
  event: ClaimedEvent;
  envelope: LedgerEvent;
  message: OutgoingMessage;
}

/** A claimed event that can never be sent: it goes to the dead-letter function as it is. */
export interface Poison {
  event: ClaimedEvent;
  envelope: UncheckedEnvelope;
  error: string;
}

/**
 * Builds each event's envelope and checks it against the contract; those
 * that fail are poison. A row written in an older release's shape is read
 * into the contract first (lib/events/legacy.ts).
 */
export function prepareBatch(
  events: readonly ClaimedEvent[],
  validators: EventValidators,
  topicPrefix: string,
): { candidates: Candidate[]; poison: Poison[] } {
  const candidates: Candidate[] = [];
  const poison: Poison[] = [];
  for (const event of events) {
    const envelope = toEnvelope(upgradeStoredEvent(event));
    const check = validators.event(envelope);
    if (!check.ok) {
      poison.push({ event, envelope, error: `invalid event: ${check.error}` });
      continue;
    }
    // The payment's trace; an event stored without one (or with a malformed one) starts its own.
    const message = eventMessage(topicPrefix, check.value, traceparentOrNew(event.traceparent));
    candidates.push({ event, envelope: check.value, message });
  }
  return { candidates, poison };
}
