/**
 * The events' one TypeScript home: their type names and payload shapes.
 * schemas/ holds the same contract as JSON Schema (what consumers and the
 * drain validate against); lib/ledger/sql/020_authorize_payment.sql writes the
 * payloads in the same transaction as the payment, so a field added here must
 * be added there and in schemas/ too (tests/integration/events.test.ts checks
 * that what the SQL writes validates, tests/unit/events-types.test.ts that these
 * types do).
 */
import type { DeclineCode } from "../payments/model.ts";

/**
 * The envelope's event_type. Also names the topic (payments.paymentauthorized)
 * and, snake-cased, the schema (payment_authorized): kept from the replaced system.
 */
export const PaymentEventType = {
  Authorized: "PaymentAuthorized",
  Declined: "PaymentDeclined",
} as const;
export type PaymentEventType = (typeof PaymentEventType)[keyof typeof PaymentEventType];

export const PAYMENT_EVENT_TYPES: readonly PaymentEventType[] = Object.values(PaymentEventType);

/** The aggregate every payment event belongs to (outbox.aggregate_type). */
export const PAYMENT_AGGREGATE_TYPE = "payment";

/** event_type header and schema of a dead-letter envelope on payments.dlq (schemas/dead_letter.json). */
export const DEAD_LETTER_EVENT_TYPE = "DeadLetter";
export const DEAD_LETTER_SCHEMA = "dead_letter";

/** schemas/payment_authorized.json */
export interface PaymentAuthorizedPayload {
  payment_id: string;
  payer_account_id: string;
  payee_account_id: string;
  /** Integer minor units, at most 2^53-1 (JSON number). */
  amount_cents: number;
  currency: string;
  description: string;
  /** RFC 3339, UTC */
  authorized_at: string;
}

/** schemas/payment_declined.json */
export interface PaymentDeclinedPayload {
  payment_id: string;
  payer_account_id: string;
  payee_account_id: string;
  amount_cents: number;
  currency: string;
  reason_code: DeclineCode;
  reason: string;
  /** RFC 3339, UTC */
  declined_at: string;
}

export interface PaymentEventPayloads {
  PaymentAuthorized: PaymentAuthorizedPayload;
  PaymentDeclined: PaymentDeclinedPayload;
}
