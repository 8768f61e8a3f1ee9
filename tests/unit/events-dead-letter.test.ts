import { describe, expect, it } from "vitest";
import { salvageDeadLetter, splitDeadLetterRequest } from "../../lib/events/dead-letter.ts";
import { isOldDeadLetterHandOff, storedEnvelopeFields, upgradeStoredEvent } from "../../lib/events/legacy.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { oldDeadLetterErrors } from "../support/old-contract.ts";

const validators = createEventValidators();
const EVENT_ID = "01JDQ7K3J8Z5X9V2M4N6P8R0T2";
const PAYMENT_ID = "01JDQ7K3J8Z5X9V2M4N6P8R0T3";
const failure = {
  error: "invalid event: /payload must be object",
  failedAt: "2026-01-02T03:05:00.000Z",
  retryCount: 0,
};
const fields = {
  aggregate_type: "Payment",
  aggregate_id: PAYMENT_ID,
  event_type: "PaymentAuthorized",
  payload: { payment_id: PAYMENT_ID },
  timestamp: "2026-01-02T03:04:05.678Z",
};

describe("salvageDeadLetter: a dead letter stays valid whatever the stored event held", () => {
  it("keeps every field the stored event gives validly, and the error as it was", () => {
    const letter = salvageDeadLetter(validators, EVENT_ID, fields, failure);
    expect(letter).toEqual({
      event_id: EVENT_ID,
      ...fields,
      retry_count: 0,
      failed_at: failure.failedAt,
      error: failure.error,
    });
  });

  it.each([
    ["an array payload", { payload: [1] }, { payload: {} }, "payload (stored: an array) as {}"],
    ["a null payload", { payload: null }, { payload: {} }, "payload (stored: null) as {}"],
    ["a string payload", { payload: "x" }, { payload: {} }, 'payload (stored: the string "x") as {}'],
    [
      "no timestamp",
      { timestamp: undefined },
      { timestamp: failure.failedAt },
      `timestamp (stored: missing) as "${failure.failedAt}"`,
    ],
    [
      "a bad timestamp",
      { timestamp: "yesterday" },
      { timestamp: failure.failedAt },
      `timestamp (stored: the string "yesterday") as "${failure.failedAt}"`,
    ],
    [
      "a numeric aggregate id",
      { aggregate_id: 7 },
      { aggregate_id: "" },
      'aggregate_id (stored: the number 7) as ""',
    ],
  ])("replaces %s, and says so in the error", (_, stored, replaced, note) => {
    const letter = salvageDeadLetter(validators, EVENT_ID, { ...fields, ...stored }, failure);
    expect(letter).toMatchObject({ ...replaced, error: `${failure.error}; the dead letter carries ${note}` });
    expect(validators.deadLetter(letter)).toMatchObject({ ok: true });
    expect(oldDeadLetterErrors(letter)).toEqual([]);
  });

  it("never replaces the failure's own fields: a hand-off that breaks them stays invalid", () => {
    const letter = salvageDeadLetter(validators, "not-a-ulid", fields, { ...failure, retryCount: -1 });
    expect(validators.deadLetter(letter).ok).toBe(false);
    const unexplained = salvageDeadLetter(
      validators,
      EVENT_ID,
      { ...fields, payload: [] },
      {
        ...failure,
        error: undefined as unknown as string,
      },
    );
    expect(validators.deadLetter(unexplained)).toMatchObject({ ok: false, fields: ["error"] });
  });

  it("takes the trace off the request, and never refuses one over it", () => {
    expect(splitDeadLetterRequest({ a: 1, traceparent: "00-x" })).toEqual({
      letter: { a: 1 },
      traceparent: "00-x",
    });
    expect(splitDeadLetterRequest({ a: 1, traceparent: 5 })).toEqual({
      letter: { a: 1 },
      traceparent: undefined,
    });
    expect(splitDeadLetterRequest("x")).toEqual({ letter: "x", traceparent: undefined });
  });
});

describe("rows of the previous release, read into the contract", () => {
  const stored = {
    id: EVENT_ID,
    aggregateType: "payment",
    aggregateId: PAYMENT_ID,
    createdAt: "2026-01-02T03:04:05.678Z",
  };

  it("PaymentAuthorized: aggregate Payment, no authorized_at", () => {
    const payload = { payment_id: PAYMENT_ID, amount_cents: 5, authorized_at: "2026-01-02T03:04:05.678Z" };
    expect(upgradeStoredEvent({ ...stored, eventType: "PaymentAuthorized", payload })).toEqual({
      ...stored,
      aggregateType: "Payment",
      eventType: "PaymentAuthorized",
      payload: { payment_id: PAYMENT_ID, amount_cents: 5 },
    });
  });

  it("PaymentDeclined: error_code and error_message for reason_code and reason, no declined_at", () => {
    const payload = { amount_cents: 5, reason_code: "SAME_ACCOUNT", reason: "same", declined_at: "x" };
    expect(upgradeStoredEvent({ ...stored, eventType: "PaymentDeclined", payload }).payload).toEqual({
      amount_cents: 5,
      error_code: "SAME_ACCOUNT",
      error_message: "same",
    });
  });

  it("leaves anything but the exact old shape alone, for the schemas to judge", () => {
    const current = {
      ...stored,
      aggregateType: "Payment",
      eventType: "PaymentAuthorized",
      payload: { a: 1 },
    };
    expect(upgradeStoredEvent(current)).toBe(current);
    for (const odd of [
      { ...current, payload: [1] },
      { ...current, eventType: "PaymentDeclined", payload: { reason_code: "X" } },
      {
        ...current,
        eventType: "PaymentDeclined",
        payload: { reason_code: "X", reason: "y", error_code: "Z" },
      },
      { ...current, eventType: "Other", payload: { authorized_at: "x" } },
    ]) {
      expect(upgradeStoredEvent(odd)).toBe(odd);
    }
  });

  it("a stored dead letter's event: the old envelope, a raw body, or this release's fields", () => {
    const oldEnvelope = {
      event_id: EVENT_ID,
      event_type: "PaymentAuthorized",
      schema: "payment_authorized",
      aggregate_type: "payment",
      aggregate_id: PAYMENT_ID,
      occurred_at: "2026-01-02T03:04:05.678Z",
      version: 1,
      payload: { payment_id: PAYMENT_ID, authorized_at: "2026-01-02T03:04:05.678Z" },
    };
    expect(storedEnvelopeFields(oldEnvelope)).toEqual({
      aggregate_type: "Payment",
      aggregate_id: PAYMENT_ID,
      event_type: "PaymentAuthorized",
      payload: { payment_id: PAYMENT_ID },
      timestamp: "2026-01-02T03:04:05.678Z",
    });
    expect(storedEnvelopeFields({ event_id: EVENT_ID, ...fields })).toEqual(fields);
    expect(storedEnvelopeFields(null)).toEqual({});
  });

  it("tells the previous release's nested hand-off from this release's flat one", () => {
    expect(isOldDeadLetterHandOff({ event_id: EVENT_ID, event: {}, retry_count: 1 })).toBe(true);
    expect(isOldDeadLetterHandOff({ event_id: EVENT_ID, ...fields, retry_count: 1 })).toBe(false);
    expect(isOldDeadLetterHandOff({ event_id: EVENT_ID, event: [], retry_count: 1 })).toBe(false);
  });
});
