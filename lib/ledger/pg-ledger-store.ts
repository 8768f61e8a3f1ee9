import { queryCommitting } from "../db/committing-query.ts";
import { isRetryable, translateDbError } from "../db/errors.ts";
import type { Pool } from "../db/pool.ts";
import type {
  AuthorizeInput,
  CaptureInput,
  LedgerStore,
  NewAccount,
  RefundInput,
  StoredAuthorization,
  StoredCapture,
  StoredRefund,
  StoredVoid,
  VoidInput,
  WriteContext,
} from "../payments/ledger-store.ts";
import type { Account, Balance, LedgerEntry, Payment, Refund } from "../payments/model.ts";
import {
  type AccountRow,
  type BalanceRow,
  CREATE_ACCOUNT_SQL,
  type EntryRow,
  FIND_ACCOUNT_SQL,
  FIND_BALANCE_SQL,
  FIND_PAYMENT_SQL,
  LIST_ENTRIES_SQL,
  LIST_REFUNDS_SQL,
  type PaymentRow,
  type RefundRow,
  ROLL_UP_SQL,
  toAccount,
  toBalance,
  toEntry,
  toPayment,
  toRefund,
} from "./read-queries.ts";
import { authorizeCall, captureCall, expireCall, refundCall, voidCall } from "./write-calls.ts";

// Lock ordering rules out deadlocks between writes; a retry covers the
// rare serialization failure a future isolation change could introduce.
const MAX_TRANSACTION_ATTEMPTS = 3;

export interface PgLedgerStoreOptions {
  /**
   * Fold hot accounts' credits into their balance rows after every this many
   * payments this store authorizes (0: never; a hot account's own debits fold
   * too). Keeps the credits a balance read sums few.
   */
  rollUpEvery?: number;
  /**
   * Send authorize_payment as a named (server-side prepared) statement, parsed
   * and planned once per server session. Default false, and false in every
   * function: a transaction-mode pooler hands each transaction whichever
   * server session is free, where the name does not exist (PgBouncer before
   * 1.21: "prepared statement … does not exist"; RDS Proxy pins the session
   * instead). Only for a connection that is a session of its own; bench:ledger
   * measures what it would save.
   */
  namedStatements?: boolean;
}

/** A write call: its statement, and how its one row becomes the answer. */
interface Call<R, T> {
  text: string;
  values: unknown[];
  read(row: R | undefined): T;
  /** A server-side prepared statement's name (namedStatements only). */
  name?: string;
}

export class PgLedgerStore implements LedgerStore {
  private readonly rollUpEvery: number;
  private readonly authorizeName: string | undefined;
  private sinceRollUp = 0;

  constructor(
    private readonly pool: Pool,
    options: PgLedgerStoreOptions = {},
  ) {
    this.rollUpEvery = options.rollUpEvery ?? 256;
    this.authorizeName = options.namedStatements ? "authorize_payment" : undefined;
  }

  async authorize(input: AuthorizeInput): Promise<StoredAuthorization> {
    const call = authorizeCall(input);
    const stored = await this.write(this.authorizeName ? { ...call, name: this.authorizeName } : call, input);
    if (stored.outcome === "NEW") await this.rollUpWhenDue();
    return stored;
  }

  capture(input: CaptureInput): Promise<StoredCapture> {
    return this.write(captureCall(input), input);
  }

  voidHold(input: VoidInput): Promise<StoredVoid> {
    return this.write(voidCall(input), input);
  }

  refund(input: RefundInput): Promise<StoredRefund> {
    return this.write(refundCall(input), input);
  }

  expireHolds(eventIds: string[], context: Omit<WriteContext, "owner">): Promise<number> {
    return this.write(expireCall(eventIds, context), context);
  }

  async createAccount(account: NewAccount): Promise<Account> {
    const rows = await this.query<AccountRow>(CREATE_ACCOUNT_SQL, [
      account.accountId,
      account.owner,
      account.currency,
      account.system,
      account.hot ?? false,
    ]);
    const row = rows[0];
    if (row === undefined) throw new Error("creating an account returned no row");
    return toAccount(row);
  }

  async findAccount(accountId: string): Promise<Account | undefined> {
    const [row] = await this.query<AccountRow>(FIND_ACCOUNT_SQL, [accountId]);
    return row && toAccount(row);
  }

  async findPayment(paymentId: string): Promise<Payment | undefined> {
    const [row] = await this.query<PaymentRow>(FIND_PAYMENT_SQL, [paymentId]);
    return row && toPayment(row);
  }

  async listRefunds(paymentId: string): Promise<Refund[]> {
    const rows = await this.query<RefundRow>(LIST_REFUNDS_SQL, [paymentId]);
    return rows.map(toRefund);
  }

  async findBalance(accountId: string): Promise<Balance | undefined> {
    const [row] = await this.query<BalanceRow>(FIND_BALANCE_SQL, [accountId]);
    return row && toBalance(row);
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

  /**
   * One write call: a single statement that commits by itself. From the moment
   * it is sent its outcome is the call's (onCommitStarted), and the function
   * refuses to commit past the deadline (012_call_deadline.sql).
   */
  private async write<R extends object, T>(
    call: Call<R, T>,
    context: Pick<WriteContext, "onCommitStarted">,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { rows } = await queryCommitting<R>(
          this.pool,
          { text: call.text, values: call.values, ...(call.name ? { name: call.name } : {}) },
          context.onCommitStarted,
        );
        return call.read(rows[0]);
      } catch (error) {
        if (attempt < MAX_TRANSACTION_ATTEMPTS && isRetryable(error)) continue;
        translateDbError(error);
      }
    }
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
