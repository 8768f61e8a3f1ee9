import type { Account, Balance, Decline, LedgerEntry, Payment } from "./model.ts";

/** What the ledger transaction decided, as stored. */
export interface StoredAuthorization {
  outcome: "NEW" | "REPLAY" | "KEY_CONFLICT";
  paymentId: string;
  status: "AUTHORIZED" | "DECLINED";
  decline?: Decline;
  processedAt: Date;
}

export interface AuthorizeInput {
  paymentId: string;
  eventId: string;
  debitEntryId: string;
  creditEntryId: string;
  idempotencyKey: string;
  requestHash: string;
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  currency: string;
  description: string;
  keyTtlSeconds: number;
  /** Whose key it is: the caller's subject ('' for in-process callers). */
  owner: string;
  /** Epoch ms after which the caller no longer waits: the store rolls back rather than commit later. */
  deadline: number | undefined;
  /** See PaymentCaller.onCommitStarted. */
  onCommitStarted?: (() => void) | undefined;
  /** W3C traceparent of the call's span, stored with the outbox event (undefined: none). */
  traceparent?: string | undefined;
}

export interface NewAccount {
  accountId: string;
  owner: string;
  currency: string;
  system: boolean;
  hot?: boolean;
}

/** The port PaymentService writes and reads through; lib/ledger implements it on Postgres. */
export interface LedgerStore {
  authorize(input: AuthorizeInput): Promise<StoredAuthorization>;
  createAccount(account: NewAccount): Promise<Account>;
  findAccount(accountId: string): Promise<Account | undefined>;
  findPayment(paymentId: string): Promise<Payment | undefined>;
  findBalance(accountId: string): Promise<Balance | undefined>;
  /** The account's entries older than `afterEntryId` (all when undefined), newest first. */
  listEntries(accountId: string, limit: number, afterEntryId: string | undefined): Promise<LedgerEntry[]>;
}
