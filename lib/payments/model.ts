/** The payment domain's own types: no protobuf, no SQL, no Lambda. Money is bigint minor units. */

export type PaymentStatus = "AUTHORIZED" | "DECLINED" | "DUPLICATE";
export type DeclineCode = "INSUFFICIENT_FUNDS" | "ACCOUNT_NOT_FOUND" | "SAME_ACCOUNT" | "CURRENCY_MISMATCH";

export interface Decline {
  code: DeclineCode;
  message: string;
}

export interface AuthorizePaymentCommand {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  currency: string;
  description: string;
}

/** Who asks, and until when; the api fills it from the verified token and the call's deadline. */
export interface PaymentCaller {
  /**
   * The idempotency scope: the token subject. Defaults to '' for in-process
   * callers with no token (seed, tools); no token can carry an empty subject.
   */
  owner?: string;
  /** Epoch milliseconds after which the caller no longer waits; undefined for none. */
  deadline?: number;
  /**
   * The W3C traceparent of the call's span, kept with the payment's event so
   * whoever consumes it can continue the trace; opaque to the ledger.
   */
  traceparent?: string;
  /**
   * Called right before the ledger sends the statement that may commit the
   * payment (again before a retry of it). From then on the ledger's answer is
   * the call's outcome: the committed payment, or an error with nothing
   * written, since the ledger itself refuses to commit past the deadline.
   * The api marks the call as taken effect here, so a deadline that passes
   * while the commit is in flight no longer replaces its answer.
   */
  onCommitStarted?: () => void;
}

export interface AuthorizationResult {
  paymentId: string;
  status: PaymentStatus;
  decline?: Decline;
  /** RFC 3339, UTC: when the payment was first decided (kept on replay). */
  processedAt: string;
}

export interface Payment {
  paymentId: string;
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  currency: string;
  status: "AUTHORIZED" | "DECLINED";
  decline?: Decline;
  description: string;
  createdAt: string;
  updatedAt: string;
}

export interface CreateAccountCommand {
  owner: string;
  currency: string;
  /** System accounts may go below zero; they fund the others. */
  system: boolean;
  /**
   * Receives from many payers at once: credits to it are not serialised on its
   * balance row, and carry no balance after. Default false.
   */
  hot?: boolean;
}

export interface Account {
  accountId: string;
  owner: string;
  currency: string;
  system: boolean;
  createdAt: string;
  hot: boolean;
}

export interface Balance {
  accountId: string;
  availableCents: bigint;
  pendingCents: bigint;
  currency: string;
}

export interface LedgerEntry {
  entryId: string;
  paymentId: string;
  accountId: string;
  direction: "DEBIT" | "CREDIT";
  /** Always positive; direction says which way it moved the balance. */
  amountCents: bigint;
  currency: string;
  /** The balance right after this entry; absent on a credit to a hot account (not serialised). */
  balanceAfterCents?: bigint;
  createdAt: string;
}

export interface ListEntriesQuery {
  accountId: string;
  /** 0 means the default page size. */
  pageSize: number;
  pageToken: string;
}

export interface EntryPage {
  entries: LedgerEntry[];
  /** Empty when there is nothing more. */
  nextPageToken: string;
}

export const MAX_AMOUNT_CENTS = 9_007_199_254_740_991n; // 2^53 - 1: exact in every JSON consumer
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;
