import { describe, expect, it } from "vitest";
import { schemaNameFor, toEnvelope } from "../../lib/events/envelope.ts";
import {
  DEAD_LETTER_SCHEMA,
  PAYMENT_AGGREGATE_TYPE,
  PAYMENT_EVENT_TYPES,
  type PaymentAuthorizedPayload,
  type PaymentDeclinedPayload,
  type PaymentEventPayloads,
  PaymentEventType,
} from "../../lib/events/types.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { newId } from "../../lib/ids.ts";
import deadLetterSchema from "../../schemas/dead_letter.json" with { type: "json" };
import envelopeSchema from "../../schemas/envelope.json" with { type: "json" };
import paymentAuthorizedSchema from "../../schemas/payment_authorized.json" with { type: "json" };
import paymentDeclinedSchema from "../../schemas/payment_declined.json" with { type: "json" };

const validators = createEventValidators();

const authorized: PaymentAuthorizedPayload = {
  payment_id: newId(),
  payer_account_id: newId(),
  payee_account_id: newId(),
  amount_cents: 1250,
  currency: "EUR",
  description: "coffee",
  authorized_at: "2026-01-02T03:04:05.678Z",
};

const declined: PaymentDeclinedPayload = {
  payment_id: newId(),
  payer_account_id: newId(),
  payee_account_id: newId(),
  amount_cents: 1250,
  currency: "EUR",
  reason_code: "INSUFFICIENT_FUNDS",
  reason: "payer account has insufficient funds",
  declined_at: "2026-01-02T03:04:05.678Z",
};

function envelopeOf<T extends PaymentEventType>(eventType: T, payload: PaymentEventPayloads[T]) {
  return toEnvelope({
    id: newId(),
    aggregateType: PAYMENT_AGGREGATE_TYPE,
    aggregateId: payload.payment_id,
    eventType,
    payload: { ...payload },
    createdAt: "2026-01-02T03:04:05.678Z",
  });
}

describe("lib/events/types.ts and schemas/ describe the same events", () => {
  it("the envelope schema knows exactly these event types, each with its schema", () => {
    expect(envelopeSchema.properties.event_type.enum).toEqual([...PAYMENT_EVENT_TYPES]);
    expect(envelopeSchema.properties.schema.enum).toEqual(PAYMENT_EVENT_TYPES.map(schemaNameFor));
    expect(paymentAuthorizedSchema.$id).toBe(
      `urn:payment-ledger:schemas:${schemaNameFor(PaymentEventType.Authorized)}`,
    );
    expect(paymentDeclinedSchema.$id).toBe(
      `urn:payment-ledger:schemas:${schemaNameFor(PaymentEventType.Declined)}`,
    );
    expect(deadLetterSchema.$id).toBe(`urn:payment-ledger:schemas:${DEAD_LETTER_SCHEMA}`);
  });

  it("each payload type has exactly the schema's required fields, and a typed payload validates", () => {
    expect(Object.keys(authorized).sort()).toEqual([...paymentAuthorizedSchema.required].sort());
    expect(Object.keys(declined).sort()).toEqual([...paymentDeclinedSchema.required].sort());
    expect(validators.envelope(envelopeOf(PaymentEventType.Authorized, authorized))).toEqual({ ok: true });
    expect(validators.envelope(envelopeOf(PaymentEventType.Declined, declined))).toEqual({ ok: true });
  });

  it("a payload under the other event's type does not validate", () => {
    const swapped = { ...envelopeOf(PaymentEventType.Authorized, authorized), event_type: "PaymentDeclined" };
    expect(validators.envelope(swapped).ok).toBe(false);
  });
});
