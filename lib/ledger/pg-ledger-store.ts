import { queryCommitting } from "../db/committing-query.ts";
import { isRetryable, translateDbError } from "../db/errors.ts";
import type { Pool } from "../db/pool.ts";
import type {
  AuthorizeInput,
  LedgerStore,
  NewAccount,
  StoredAuthorization,
} from "../payments/ledger-store.ts";
import type { Account, Balance, DeclineCode, LedgerEntry, Payment } from "../payments/model.ts";
import { toRfc3339 } from "../time.ts";

// The whole payment is one function call (lib/ledger/sql/020_authorize_payment.sql): one
// round trip, one transaction, locks taken in account id order. Named arguments: the
// function's parameters may grow (with defaults) without this call changing.
const AUTHORIZE_SQL = `
  SELECT outcome, payment_id, status, error_code, error_message, processed_at
  FROM authorize_payment(
    p_payment_id => $1, p_event_id => $2, p_debit_entry_id => $3, p_credit_entry_id => $4,
    p_owner => $5, p_idempotency_key => $6, p_request_hash => $7, p_key_ttl => make_interval(secs => $8),
    p_payer => $9, p_payee => $10, p_amount => $11, p_currency => $12, p_description => $13,
    p_deadline => $14::timestamptz, p_traceparent => $15)`;

const CREATE_ACCOUNT_SQL = `
  WITH account AS (
    INSERT INTO accounts (id, owner, currency, is_system) VALUES ($1, $2, $3, $4)
    RETURNING id, owner, currency, is_system, created_at
  ), balance AS (
    INSERT INTO balances (account_id, currency, allow_negative, hot)
    SELECT id, currency, is_system, $5 FROM account
    RETURNING hot
  )
  SELECT id, owner, currency, is_system, created_at, balance.hot FROM account, balance`;

const FIND_ACCOUNT_SQL = `
  SELECT a.id, a.owner, a.currency, a.is_system, a.created_at, b.hot
  FROM accounts a JOIN balances b ON b.account_id = a.id
  WHERE a.id = $1`;

const FIND_PAYMENT_SQL = `
  SELECT id, payer_account_id, payee_account_id, amount, currency, status, error_code, error_message,
         description, created_at, updated_at
  FROM payments WHERE id = $1`;

// A hot account's balance is its row plus the credits not yet folded into it,
// read in one statement (one snapshot), so a fold in between is never counted
// twice or missed.
const FIND_BALANCE_SQL = `
  SELECT b.account_id, b.pending, b.currency,
         b.available + CASE WHEN b.hot
           THEN coalesce((SELECT sum(h.amount) FROM hot_credits h WHERE h.account_id = b.account_id), 0)::bigint
           ELSE 0 END AS available
  FROM balances b WHERE b.account_id = $1`;

// Folds hot accounts' credits into their balance rows (015_balance_moves.sql).
const ROLL_UP_SQL = "SELECT roll_up_hot_credits() AS folded";

// A page starts below the statement position of the entry the previous page
// ended with (looked up within the same account; an id of another account's
// entry matches nothing), so positions never leave the database.
const LIST_ENTRIES_SQL = `
  SELECT id, payment_id, account_id, amount, currency, balance_after, created_at
  FROM ledger_entries
  WHERE account_id = $1
    AND ($3::text IS NULL
         OR seq < (SELECT shown.seq FROM ledger_entries shown WHERE shown.id = $3 AND shown.account_id = $1))
  ORDER BY seq DESC
  LIMIT $2`;

interface AuthorizeRow {
  outcome: StoredAuthorization["outcome"];
  payment_id: string;
  status: "AUTHORIZED" | "DECLINED" | null;
  error_code: DeclineCode | null;
  error_message: string | null;
  processed_at: Date | null;
}

interface AccountRow {
  id: string;
  owner: string;
  currency: string;
  is_system: boolean;
  created_at: Date;
  hot: boolean;
}

interface PaymentRow {
  id: string;
  payer_account_id: string;
  payee_account_id: string;
  amount: bigint;
  currency: string;
  status: "AUTHORIZED" | "DECLINED";
  error_code: DeclineCode | null;
  error_message: string | null;
  description: string;
  created_at: Date;
  updated_at: Date;
}

interface BalanceRow {
  account_id: string;
  available: bigint;
  pending: bigint;
  currency: string;
}

interface EntryRow {
  id: string;
  payment_id: string;
  account_id: string;
  amount: bigint;
  currency: string;
  balance_after: bigint | null;
  created_at: Date;
}

// Lock ordering rules out deadlocks between payments; a retry covers the
// rare serialization failure a future isolation change could introduce.
const MAX_TRANSACTION_ATTEMPTS = 3;

export interface PgLedgerStoreOptions {
  /**
   * Fold hot accounts' credits into their balance rows after every this many
   * payments this store authorizes (0: never; a hot account's own debits fold
   * too). Keeps the credits a balance read sums few.
   */
  rollUpEvery?: number;
}

export class PgLedgerStore implements LedgerStore {
  private readonly rollUpEvery: number;
  private sinceRollUp = 0;

  constructor(
    private readonly pool: Pool,
    options: PgLedgerStoreOptions = {},
  ) {
    this.rollUpEvery = options.rollUpEvery ?? 256;
  }

  async authorize(input: AuthorizeInput): Promise<StoredAuthorization> {
    const params = [
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
      input.deadline === undefined ? null : new Date(input.deadline),
      input.traceparent ?? null,
    ];
    for (let attempt = 1; ; attempt++) {
      try {
        // The statement commits by itself: from the moment it is sent, its outcome is the
        // call's, and the function refuses to commit past the deadline (012_call_deadline.sql).
        const { rows } = await queryCommitting<AuthorizeRow>(
          this.pool,
          AUTHORIZE_SQL,
          params,
          input.onCommitStarted,
        );
        const row = rows[0];
        if (!row) throw new Error(`authorize_payment returned no row for key ${input.idempotencyKey}`);
        const stored = toStoredAuthorization(row);
        if (row.outcome === "NEW") await this.rollUpWhenDue();
        return stored;
      } catch (error) {
        if (attempt < MAX_TRANSACTION_ATTEMPTS && isRetryable(error)) continue;
        translateDbError(error);
      }
    }
  }

  async createAccount(account: NewAccount): Promise<Account> {
    const rows = await this.query<AccountRow>(CREATE_ACCOUNT_SQL, [
      account.accountId,
      account.owner,
      account.currency,
      account.system,
      account.hot ?? false,
    ]);
    return toAccount(first(rows));
  }

  async findAccount(accountId: string): Promise<Account | undefined> {
    const [row] = await this.query<AccountRow>(FIND_ACCOUNT_SQL, [accountId]);
    return row && toAccount(row);
  }

  async findPayment(paymentId: string): Promise<Payment | undefined> {
    const [row] = await this.query<PaymentRow>(FIND_PAYMENT_SQL, [paymentId]);
    return row && toPayment(row);
  }

  async findBalance(accountId: string): Promise<Balance | undefined> {
    const [row] = await this.query<BalanceRow>(FIND_BALANCE_SQL, [accountId]);
    return (
      row && {
        accountId: row.account_id,
        availableCents: row.available,
        pendingCents: row.pending,
        currency: row.currency,
      }
    );
  }

  async listEntries(
    accountId: string,
    limit: number,
    afterEntryId: string | undefined,
  ): Promise<LedgerEntry[]> {
    const rows = await this.query<EntryRow>(LIST_ENTRIES_SQL, [accountId, limit, afterEntryId ?? null]);
    return rows.map(toEntry);
  }

  /** Folds every hot account's committed credits into its balance row; how many accounts it folded. */
  async rollUpHotCredits(): Promise<number> {
    const [row] = await this.query<{ folded: number }>(ROLL_UP_SQL, []);
    return row?.folded ?? 0;
  }

  private async rollUpWhenDue(): Promise<void> {
    if (this.rollUpEvery <= 0) return;
    this.sinceRollUp += 1;
    if (this.sinceRollUp < this.rollUpEvery) return;
    this.sinceRollUp = 0;
    try {
      await this.rollUpHotCredits();
    } catch {
      // The payment is committed and its answer stands; unfolded credits stay
      // exact in every balance read and the next roll-up (or debit) folds them.
    }
  }

  private async query<R extends object>(sql: string, params: unknown[]): Promise<R[]> {
    try {
      const { rows } = await this.pool.query<R>(sql, params);
      return rows;
    } catch (error) {
      translateDbError(error);
    }
  }
}

function first<R>(rows: R[]): R {
  const row = rows[0];
  if (row === undefined) throw new Error("expected one row, got none");
  return row;
}

function toStoredAuthorization(row: AuthorizeRow): StoredAuthorization {
  if (row.outcome === "KEY_CONFLICT") {
    return { outcome: row.outcome, paymentId: row.payment_id, status: "DECLINED", processedAt: new Date(0) };
  }
  if (row.status === null || row.processed_at === null) {
    throw new Error(`authorize_payment returned an incomplete row for payment ${row.payment_id}`);
  }
  return {
    outcome: row.outcome,
    paymentId: row.payment_id,
    status: row.status,
    ...(row.error_code ? { decline: { code: row.error_code, message: row.error_message ?? "" } } : {}),
    processedAt: row.processed_at,
  };
}

function toAccount(row: AccountRow): Account {
  return {
    accountId: row.id,
    owner: row.owner,
    currency: row.currency,
    system: row.is_system,
    createdAt: toRfc3339(row.created_at),
    hot: row.hot,
  };
}

function toPayment(row: PaymentRow): Payment {
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
  };
}

function toEntry(row: EntryRow): LedgerEntry {
  return {
    entryId: row.id,
    paymentId: row.payment_id,
    accountId: row.account_id,
    direction: row.amount < 0n ? "DEBIT" : "CREDIT",
    amountCents: row.amount < 0n ? -row.amount : row.amount,
    currency: row.currency,
    ...(row.balance_after === null ? {} : { balanceAfterCents: row.balance_after }),
    createdAt: toRfc3339(row.created_at),
  };
}
