import { InvalidArgumentError } from "../errors.ts";
import {
  type AuthorizePaymentCommand,
  type CapturePaymentCommand,
  type CreateAccountCommand,
  DEFAULT_PAGE_SIZE,
  type ListEntriesQuery,
  MAX_AMOUNT_CENTS,
  MAX_PAGE_SIZE,
  type RefundPaymentCommand,
} from "./model.ts";

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const CURRENCY = /^[A-Z]{3}$/;

export function requireUlid(field: string, value: string): void {
  if (value === "") throw new InvalidArgumentError(field, "is required");
  if (!ULID.test(value))
    throw new InvalidArgumentError(field, "must be a ULID (26 Crockford base32 characters)");
}

export function requireCurrency(field: string, value: string): void {
  if (!CURRENCY.test(value))
    throw new InvalidArgumentError(field, "must be an ISO 4217 code of 3 upper-case letters");
}

function between(value: number, min: number, max: number): boolean {
  return value >= min && value <= max;
}

function requireText(field: string, value: string, min: number, max: number): void {
  // Characters are code points: between half and all of the UTF-16 length, so most strings need no count.
  const surelyFits = value.length <= max && Math.ceil(value.length / 2) >= min;
  if (!surelyFits && !between([...value].length, min, max)) {
    throw new InvalidArgumentError(
      field,
      min > 0 ? `must be ${min} to ${max} characters` : `must be at most ${max} characters`,
    );
  }
  // Postgres text cannot hold NUL; refuse it here rather than fail in SQL.
  if (value.includes("\u0000")) throw new InvalidArgumentError(field, "must not contain NUL characters");
}

/**
 * Rejects requests that could never be a payment. Only checks that need no
 * database live here; business declines (funds, accounts, currency, same
 * account) are decided in the ledger transaction and recorded.
 */
export function validateAuthorizePayment(cmd: AuthorizePaymentCommand): void {
  requireText("idempotency_key", cmd.idempotencyKey, 1, 255);
  requireUlid("payer_account_id", cmd.payerAccountId);
  requireUlid("payee_account_id", cmd.payeeAccountId);
  requireAmount("amount_cents", cmd.amountCents);
  requireCurrency("currency", cmd.currency);
  requireText("description", cmd.description, 0, 500);
  if (cmd.hold && (!Number.isInteger(cmd.hold.expiresInSeconds) || cmd.hold.expiresInSeconds < 0)) {
    throw new InvalidArgumentError("hold.expires_in_seconds", "must be 0 (the longest allowed) or more");
  }
}

/**
 * The hold's lifetime in seconds: as asked, or the longest allowed for 0.
 * Longer than allowed is refused, never shortened: the caller would not know.
 */
export function holdSeconds(cmd: AuthorizePaymentCommand, maxSeconds: number): number | undefined {
  if (!cmd.hold) return undefined;
  const asked = cmd.hold.expiresInSeconds;
  if (asked > maxSeconds) {
    throw new InvalidArgumentError("hold.expires_in_seconds", `must be at most ${maxSeconds} (0 for that)`);
  }
  return asked === 0 ? maxSeconds : asked;
}

export function validateCapturePayment(cmd: CapturePaymentCommand): void {
  requireText("idempotency_key", cmd.idempotencyKey, 1, 255);
  requireUlid("payment_id", cmd.paymentId);
  // 0 captures the whole hold.
  if (cmd.amountCents !== 0n) requireAmount("amount_cents", cmd.amountCents);
}

export function validateRefundPayment(cmd: RefundPaymentCommand): void {
  requireText("idempotency_key", cmd.idempotencyKey, 1, 255);
  requireUlid("payment_id", cmd.paymentId);
  requireAmount("amount_cents", cmd.amountCents);
  requireText("description", cmd.description, 0, 500);
}

function requireAmount(field: string, amount: bigint): void {
  if (amount < 1n || amount > MAX_AMOUNT_CENTS) {
    throw new InvalidArgumentError(field, `must be between 1 and ${MAX_AMOUNT_CENTS} minor units`);
  }
}

export function validateCreateAccount(cmd: CreateAccountCommand): void {
  requireText("owner", cmd.owner, 1, 255);
  requireCurrency("currency", cmd.currency);
}

/** Returns the effective page size. */
export function validateListEntries(query: ListEntriesQuery): number {
  requireUlid("account_id", query.accountId);
  if (query.pageSize === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(query.pageSize) || query.pageSize < 1 || query.pageSize > MAX_PAGE_SIZE) {
    throw new InvalidArgumentError(
      "page_size",
      `must be between 1 and ${MAX_PAGE_SIZE} (0 for ${DEFAULT_PAGE_SIZE})`,
    );
  }
  return query.pageSize;
}
