/**
 * The ledger's write calls: one SQL function each (lib/ledger/sql/), called
 * with named arguments in one statement, so one round trip and one
 * transaction per call. Each turns its input into the call's text and
 * values, and its row into what the store answers.
 */
import type {
  AuthorizeInput,
  CaptureInput,
  RefundInput,
  StoredAuthorization,
  StoredCapture,
  StoredRefund,
  StoredVoid,
  VoidInput,
  WriteContext,
} from "../payments/ledger-store.ts";
import type { DeclineCode, HoldDeclineCode, RefundDeclineCode } from "../payments/model.ts";

const deadlineOf = (context: Pick<WriteContext, "deadline">) =>
  context.deadline === undefined ? null : new Date(context.deadline);

// The function's parameters may grow (with defaults) without these calls changing.
// Durations are sent as a number of seconds cast to interval (a bare number is
// seconds to interval input): make_interval(secs => …) cost the parse of
// every call its seven defaulted parameters, about 4 % of a payment's server time.
const AUTHORIZE_SQL = `
  SELECT outcome, payment_id, status, error_code, error_message, processed_at, hold_expires_at
  FROM authorize_payment(
    p_payment_id => $1, p_event_id => $2, p_debit_entry_id => $3, p_credit_entry_id => $4,
    p_owner => $5, p_idempotency_key => $6, p_request_hash => $7, p_key_ttl => $8::interval,
    p_payer => $9, p_payee => $10, p_amount => $11, p_currency => $12, p_description => $13,
    p_deadline => $14::timestamptz, p_traceparent => $15, p_hold_for => $16::interval)`;

interface AuthorizeRow {
  outcome: StoredAuthorization["outcome"];
  payment_id: string;
  status: StoredAuthorization["status"] | null;
  error_code: DeclineCode | null;
  error_message: string | null;
  processed_at: Date | null;
  hold_expires_at: Date | null;
}

export function authorizeCall(input: AuthorizeInput) {
  return {
    text: AUTHORIZE_SQL,
    values: [
      input.paymentId,
      input.eventId,
      input.debitEntryId,
      input.creditEntryId,
      input.owner,
      input.idempotencyKey,
      input.requestHash,
      input.keyTtlSeconds,
      input.payerAccountId,
      input.payeeAccountId,
      input.amountCents.toString(),
      input.currency,
      input.description,
      deadlineOf(input),
      input.traceparent ?? null,
      input.holdSeconds ?? null,
    ],
    read(row: AuthorizeRow | undefined): StoredAuthorization {
      const r = required(row, "authorize_payment");
      if (r.outcome === "KEY_CONFLICT") {
        return { outcome: r.outcome, paymentId: r.payment_id, status: "DECLINED", processedAt: new Date(0) };
      }
      return {
        outcome: r.outcome,
        paymentId: r.payment_id,
        status: present(r.status, "authorize_payment"),
        ...(r.error_code ? { decline: { code: r.error_code, message: r.error_message ?? "" } } : {}),
        processedAt: present(r.processed_at, "authorize_payment"),
        ...(r.hold_expires_at ? { holdExpiresAt: r.hold_expires_at } : {}),
      };
    },
  };
}

const CAPTURE_SQL = `
  SELECT outcome, payment_id, status, error_code, error_message, captured_amount, released_amount, processed_at
  FROM capture_payment(
    p_payment_id => $1, p_event_id => $2, p_debit_entry_id => $3, p_credit_entry_id => $4,
    p_owner => $5, p_idempotency_key => $6, p_request_hash => $7, p_key_ttl => $8::interval,
    p_amount => $9, p_deadline => $10::timestamptz, p_traceparent => $11)`;

interface CaptureRow {
  outcome: StoredCapture["outcome"];
  payment_id: string;
  status: StoredCapture["status"] | null;
  error_code: HoldDeclineCode | null;
  error_message: string | null;
  captured_amount: bigint | null;
  released_amount: bigint | null;
  processed_at: Date | null;
}

export function captureCall(input: CaptureInput) {
  return {
    text: CAPTURE_SQL,
    values: [
      input.paymentId,
      input.eventId,
      input.debitEntryId,
      input.creditEntryId,
      input.owner,
      input.idempotencyKey,
      input.requestHash,
      input.keyTtlSeconds,
      input.amountCents.toString(),
      deadlineOf(input),
      input.traceparent ?? null,
    ],
    read(row: CaptureRow | undefined): StoredCapture {
      const r = required(row, "capture_payment");
      if (r.outcome === "KEY_CONFLICT") {
        return { outcome: r.outcome, paymentId: r.payment_id, status: "DECLINED", processedAt: new Date(0) };
      }
      return {
        outcome: r.outcome,
        paymentId: r.payment_id,
        status: present(r.status, "capture_payment"),
        ...(r.error_code ? { decline: { code: r.error_code, message: r.error_message ?? "" } } : {}),
        ...(r.captured_amount === null ? {} : { capturedCents: r.captured_amount }),
        ...(r.released_amount === null ? {} : { releasedCents: r.released_amount }),
        processedAt: present(r.processed_at, "capture_payment"),
      };
    },
  };
}

const VOID_SQL = `
  SELECT outcome, status, error_code, error_message, released_amount, processed_at
  FROM void_payment(p_payment_id => $1, p_event_id => $2, p_deadline => $3::timestamptz, p_traceparent => $4)`;

interface VoidRow {
  outcome: StoredVoid["outcome"];
  status: StoredVoid["status"];
  error_code: HoldDeclineCode | null;
  error_message: string | null;
  released_amount: bigint | null;
  processed_at: Date;
}

export function voidCall(input: VoidInput) {
  return {
    text: VOID_SQL,
    values: [input.paymentId, input.eventId, deadlineOf(input), input.traceparent ?? null],
    read(row: VoidRow | undefined): StoredVoid {
      const r = required(row, "void_payment");
      return {
        outcome: r.outcome,
        status: r.status,
        ...(r.error_code ? { decline: { code: r.error_code, message: r.error_message ?? "" } } : {}),
        ...(r.released_amount === null ? {} : { releasedCents: r.released_amount }),
        processedAt: r.processed_at,
      };
    },
  };
}

const REFUND_SQL = `
  SELECT outcome, refund_id, status, error_code, error_message, processed_at
  FROM refund_payment(
    p_refund_id => $1, p_event_id => $2, p_debit_entry_id => $3, p_credit_entry_id => $4,
    p_owner => $5, p_idempotency_key => $6, p_request_hash => $7, p_key_ttl => $8::interval,
    p_payment_id => $9, p_amount => $10, p_description => $11,
    p_deadline => $12::timestamptz, p_traceparent => $13)`;

interface RefundRow {
  outcome: StoredRefund["outcome"];
  refund_id: string | null;
  /** KEY_CONFLICT: REFUND or PAYMENT, what refund_id is (032). */
  status: StoredRefund["status"] | "REFUND" | "PAYMENT" | null;
  error_code: RefundDeclineCode | null;
  error_message: string | null;
  processed_at: Date | null;
}

export function refundCall(input: RefundInput) {
  return {
    text: REFUND_SQL,
    values: [
      input.refundId,
      input.eventId,
      input.debitEntryId,
      input.creditEntryId,
      input.owner,
      input.idempotencyKey,
      input.requestHash,
      input.keyTtlSeconds,
      input.paymentId,
      input.amountCents.toString(),
      input.description,
      deadlineOf(input),
      input.traceparent ?? null,
    ],
    read(row: RefundRow | undefined): StoredRefund {
      const r = required(row, "refund_payment");
      if (r.outcome === "KEY_CONFLICT" || r.outcome === "NOT_FOUND") {
        const keyUsedBy = r.status === "REFUND" ? "refund" : r.status === "PAYMENT" ? "payment" : undefined;
        return {
          outcome: r.outcome,
          refundId: r.refund_id ?? "",
          ...(keyUsedBy ? { keyUsedBy } : {}),
          status: "DECLINED",
          processedAt: new Date(0),
        };
      }
      const status = present(r.status, "refund_payment");
      if (status !== "REFUNDED" && status !== "DECLINED")
        throw new Error(`refund_payment returned status ${status} for outcome ${r.outcome}`);
      return {
        outcome: r.outcome,
        refundId: present(r.refund_id, "refund_payment"),
        status,
        ...(r.error_code ? { decline: { code: r.error_code, message: r.error_message ?? "" } } : {}),
        processedAt: present(r.processed_at, "refund_payment"),
      };
    },
  };
}

const EXPIRE_SQL =
  "SELECT expire_holds(p_event_ids => $1::text[], p_deadline => $2::timestamptz, p_traceparent => $3) AS released";

export function expireCall(eventIds: string[], context: Omit<WriteContext, "owner">) {
  return {
    text: EXPIRE_SQL,
    values: [eventIds, deadlineOf(context), context.traceparent ?? null],
    read(row: { released: number } | undefined): number {
      return required(row, "expire_holds").released;
    },
  };
}

function required<R>(row: R | undefined, fn: string): R {
  if (!row) throw new Error(`${fn} returned no row`);
  return row;
}

function present<T>(value: T | null, fn: string): T {
  if (value === null) throw new Error(`${fn} returned an incomplete row`);
  return value;
}
