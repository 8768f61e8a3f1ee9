/** The ledger's reads: SQL and the mapping of its rows to the domain's types. */
import type {
  Account,
  Balance,
  Decline,
  LedgerEntry,
  Payment,
  PaymentState,
  Refund,
  RefundDeclineCode,
} from "../payments/model.ts";
import { toRfc3339 } from "../time.ts";

export const CREATE_ACCOUNT_SQL = `
  WITH account AS (
    INSERT INTO accounts (id, owner, currency, is_system) VALUES ($1, $2, $3, $4)
    RETURNING id, owner, currency, is_system, created_at
  ), balance AS (
    INSERT INTO balances (account_id, currency, allow_negative, hot)
    SELECT id, currency, is_system, $5 FROM account
    RETURNING hot
  )
  SELECT id, owner, currency, is_system, created_at, balance.hot FROM account, balance`;

export const FIND_ACCOUNT_SQL = `
  SELECT a.id, a.owner, a.currency, a.is_system, a.created_at, b.hot
  FROM accounts a JOIN balances b ON b.account_id = a.id
  WHERE a.id = $1`;

// A hold's state is its holds row's; every other payment's is its own row's.
export const FIND_PAYMENT_SQL = `
  SELECT p.id, p.payer_account_id, p.payee_account_id, p.amount, p.currency,
         CASE WHEN h.payment_id IS NULL OR p.status = 'DECLINED' THEN p.status ELSE h.state END AS status,
         p.error_code, p.error_message, p.description, p.created_at,
         greatest(p.updated_at, h.settled_at) AS updated_at,
         CASE WHEN p.status = 'DECLINED' THEN 0
              WHEN h.payment_id IS NULL THEN p.amount
              ELSE coalesce(h.captured_amount, 0) END AS captured_amount,
         p.refunded_amount, h.expires_at AS hold_expires_at
  FROM payments p LEFT JOIN holds h ON h.payment_id = p.id
  WHERE p.id = $1`;

export const LIST_REFUNDS_SQL = `
  SELECT r.id, r.payment_id, r.amount, p.currency, r.status, r.error_code, r.error_message, r.description,
         r.created_at
  FROM refunds r JOIN payments p ON p.id = r.payment_id
  WHERE r.payment_id = $1
  ORDER BY r.id`;

// A hot account's balance is its row plus the credits not yet folded into it,
// read in one statement (one snapshot), so a fold in between is never counted
// twice or missed. What it can spend leaves out what its holds reserve.
export const FIND_BALANCE_SQL = `
  SELECT b.account_id, b.pending, b.currency,
         b.available - b.pending + CASE WHEN b.hot
           THEN coalesce((SELECT sum(h.amount) FROM hot_credits h WHERE h.account_id = b.account_id), 0)::bigint
           ELSE 0 END AS available
  FROM balances b WHERE b.account_id = $1`;

// Folds hot accounts' credits into their balance rows (015_balance_moves.sql).
export const ROLL_UP_SQL = "SELECT roll_up_hot_credits() AS folded";

// A page starts below the statement position of the entry the previous page
// ended with (looked up within the same account; an id of another account's
// entry matches nothing), so positions never leave the database. What posted
// an entry: a refund names itself; otherwise a hold's entries are its capture.
export const LIST_ENTRIES_SQL = `
  SELECT e.id, e.payment_id, e.account_id, e.amount, e.currency, e.balance_after, e.created_at, e.refund_id,
         CASE WHEN e.refund_id IS NOT NULL THEN 'REFUND'
              WHEN EXISTS (SELECT 1 FROM holds h WHERE h.payment_id = e.payment_id) THEN 'CAPTURE'
              ELSE 'PAYMENT' END AS kind
  FROM ledger_entries e
  WHERE e.account_id = $1
    AND ($3::text IS NULL
         OR e.seq < (SELECT shown.seq FROM ledger_entries shown WHERE shown.id = $3 AND shown.account_id = $1))
  ORDER BY e.seq DESC
  LIMIT $2`;

export interface AccountRow {
  id: string;
  owner: string;
  currency: string;
  is_system: boolean;
  created_at: Date;
  hot: boolean;
}

export interface PaymentRow {
  id: string;
  payer_account_id: string;
  payee_account_id: string;
  amount: bigint;
  currency: string;
  status: PaymentState;
  error_code: Decline["code"] | null;
  error_message: string | null;
  description: string;
  created_at: Date;
  updated_at: Date;
  captured_amount: bigint;
  refunded_amount: bigint;
  hold_expires_at: Date | null;
}

export interface RefundRow {
  id: string;
  payment_id: string;
  amount: bigint;
  currency: string;
  status: Refund["status"];
  error_code: RefundDeclineCode | null;
  error_message: string | null;
  description: string;
  created_at: Date;
}

export interface BalanceRow {
  account_id: string;
  available: bigint;
  pending: bigint;
  currency: string;
}

export interface EntryRow {
  id: string;
  payment_id: string;
  account_id: string;
  amount: bigint;
  currency: string;
  balance_after: bigint | null;
  created_at: Date;
  refund_id: string | null;
  kind: LedgerEntry["kind"];
}

export function toAccount(row: AccountRow): Account {
  return {
    accountId: row.id,
    owner: row.owner,
    currency: row.currency,
    system: row.is_system,
    createdAt: toRfc3339(row.created_at),
    hot: row.hot,
  };
}

export function toPayment(row: PaymentRow): Payment {
  return {
    paymentId: row.id,
    payerAccountId: row.payer_account_id,
    payeeAccountId: row.payee_account_id,
    amountCents: row.amount,
    currency: row.currency,
    status: row.status,
    ...(row.error_code ? { decline: { code: row.error_code, message: row.error_message ?? "" } } : {}),
    description: row.description,
    createdAt: toRfc3339(row.created_at),
    updatedAt: toRfc3339(row.updated_at),
    capturedCents: row.captured_amount,
    refundedCents: row.refunded_amount,
    ...(row.hold_expires_at ? { holdExpiresAt: toRfc3339(row.hold_expires_at) } : {}),
  };
}

export function toRefund(row: RefundRow): Refund {
  return {
    refundId: row.id,
    paymentId: row.payment_id,
    amountCents: row.amount,
    currency: row.currency,
    status: row.status,
    ...(row.error_code ? { decline: { code: row.error_code, message: row.error_message ?? "" } } : {}),
    description: row.description,
    createdAt: toRfc3339(row.created_at),
  };
}

export function toBalance(row: BalanceRow): Balance {
  return {
    accountId: row.account_id,
    availableCents: row.available,
    pendingCents: row.pending,
    currency: row.currency,
  };
}

export function toEntry(row: EntryRow): LedgerEntry {
  return {
    entryId: row.id,
    paymentId: row.payment_id,
    accountId: row.account_id,
    direction: row.amount < 0n ? "DEBIT" : "CREDIT",
    amountCents: row.amount < 0n ? -row.amount : row.amount,
    currency: row.currency,
    ...(row.balance_after === null ? {} : { balanceAfterCents: row.balance_after }),
    createdAt: toRfc3339(row.created_at),
    kind: row.kind,
    ...(row.refund_id === null ? {} : { refundId: row.refund_id }),
  };
}
