/**
 * The event contract in TypeScript. schemas/ is its one source: the message
 * and payload types are generated from it (gen/contract.ts), and so is the
 * table of event types (gen/schemas.ts) that the topics, the validators and
 * the consumer's subscriptions derive from. The SQL that writes the payloads
 * (lib/ledger/sql/020_authorize_payment.sql) is checked against the schemas
 * by tests/integration/events.test.ts. Nothing here restates a field.
 */
import type { LedgerEvent } from "./gen/contract.ts";
import { EVENT_SCHEMAS } from "./gen/schemas.ts";

export type {
  DeadLetter,
  EventEnvelope,
  LedgerEvent,
  PaymentAuthorized,
  PaymentAuthorizedPayload,
  PaymentDeclined,
  PaymentDeclinedPayload,
} from "./gen/contract.ts";
export { DEAD_LETTER_SCHEMA_NAME } from "./gen/schemas.ts";

/** Every event_type a message may carry; each names its topic (payments.paymentauthorized). */
export type EventType = LedgerEvent["event_type"];

// The generated table and the generated types come from the same files; this
// fails to compile if they ever name different event types.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const tableMatchesTypes: Same<EventType, keyof typeof EVENT_SCHEMAS> = true;
void tableMatchesTypes;

export const EVENT_TYPES: readonly EventType[] = Object.keys(EVENT_SCHEMAS) as EventType[];

export function isEventType(value: unknown): value is EventType {
  return typeof value === "string" && Object.hasOwn(EVENT_SCHEMAS, value);
}

/** payment_authorized for PaymentAuthorized: the schema file (without .json) that defines its message. */
export function schemaNameOf(eventType: EventType): string {
  return EVENT_SCHEMAS[eventType].schemaName;
}

/** The aggregate an event type belongs to ("Payment"). */
export function aggregateTypeOf(eventType: EventType): string {
  return EVENT_SCHEMAS[eventType].aggregateType;
}
