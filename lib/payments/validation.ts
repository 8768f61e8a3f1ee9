import { InvalidArgumentError } from "../errors.ts";
import {
  type AuthorizePaymentCommand,
  type CreateAccountCommand,
  DEFAULT_PAGE_SIZE,
  type ListEntriesQuery,
  MAX_AMOUNT_CENTS,
  MAX_PAGE_SIZE,
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
  if (cmd.amountCents < 1n || cmd.amountCents > MAX_AMOUNT_CENTS) {
    throw new InvalidArgumentError("amount_cents", `must be between 1 and ${MAX_AMOUNT_CENTS} minor units`);
  }
  requireCurrency("currency", cmd.currency);
  requireText("description", cmd.description, 0, 500);
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
