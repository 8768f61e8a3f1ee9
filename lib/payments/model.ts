/** The payment domain's own types: no protobuf, no SQL, no Lambda. Money is bigint minor units. */

/** What AuthorizePayment answers. */
export type PaymentStatus = "AUTHORIZED" | "DECLINED" | "DUPLICATE" | "HELD";
/** Where a payment stands: its authorization's outcome, or for a hold the hold's state. */
export type PaymentState = "AUTHORIZED" | "DECLINED" | "HELD" | "CAPTURED" | "VOIDED" | "EXPIRED";
export type DeclineCode = "INSUFFICIENT_FUNDS" | "ACCOUNT_NOT_FOUND" | "SAME_ACCOUNT" | "CURRENCY_MISMATCH";
/** Why a capture or void was declined (nothing was written). */
export type HoldDeclineCode = "NOT_A_HOLD" | "CAPTURED" | "VOIDED" | "EXPIRED" | "EXCEEDS_HOLD";
/** Why a refund was declined (recorded, with its event). */
export type RefundDeclineCode = "NOT_CAPTURED" | "EXCEEDS_REFUNDABLE" | "INSUFFICIENT_FUNDS";

export interface Decline<Code extends string = DeclineCode> {
  code: Code;
  message: string;
}

export interface AuthorizePaymentCommand {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  currency: string;
  description: string;
  /** Present: reserve the amount (a hold) instead of moving it. */
  hold?: HoldOptions;
}

export interface HoldOptions {
  /** 1 up to the configured maximum; 0 means that maximum. */
  expiresInSeconds: number;
}

export interface CapturePaymentCommand {
  idempotencyKey: string;
  paymentId: string;
  /** 1 up to the held amount; 0n captures all of it. */
  amountCents: bigint;
}

export interface RefundPaymentCommand {
  idempotencyKey: string;
  paymentId: string;
  amountCents: bigint;
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
  /** RFC 3339, UTC: when a hold expires (a new or replayed hold). */
  holdExpiresAt?: string;
}

export interface CaptureResult {
  paymentId: string;
  /** DUPLICATE: a replay of the key, whose capture stands. */
  status: "CAPTURED" | "DUPLICATE" | "DECLINED";
  decline?: Decline<HoldDeclineCode>;
  /** What moved, and what of the hold was released (CAPTURED, DUPLICATE). */
  capturedCents?: bigint;
  releasedCents?: bigint;
  /** RFC 3339, UTC: when it was captured (or declined). */
  processedAt: string;
}

export interface VoidResult {
  paymentId: string;
  status: "VOIDED" | "DECLINED";
  decline?: Decline<HoldDeclineCode>;
  /** What was released (VOIDED). */
  releasedCents?: bigint;
  /** RFC 3339, UTC: when it was voided (the first void's time on a repeat). */
  processedAt: string;
}

export interface RefundResult {
  refundId: string;
  paymentId: string;
  /** DUPLICATE: a replay of the key, whose refund (refunded or declined) stands. */
  status: "REFUNDED" | "DECLINED" | "DUPLICATE";
  decline?: Decline<RefundDeclineCode>;
  /** RFC 3339, UTC: when the refund was decided (kept on replay). */
  processedAt: string;
}

export interface Payment {
  paymentId: string;
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  currency: string;
  status: PaymentState;
  decline?: Decline;
  description: string;
  createdAt: string;
  updatedAt: string;
  /** What moved payer to payee: the amount when AUTHORIZED, the captured part when CAPTURED, else 0. */
  capturedCents: bigint;
  /** What refunds moved back so far. */
  refundedCents: bigint;
  /** RFC 3339, UTC: when its hold expires or expired; absent when it was never held. */
  holdExpiresAt?: string;
}

export interface Refund {
  refundId: string;
  paymentId: string;
  amountCents: bigint;
  currency: string;
  status: "REFUNDED" | "DECLINED";
  decline?: Decline<RefundDeclineCode>;
  description: string;
  createdAt: string;
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
  /** What the account can spend: its posted balance less what its open holds reserve. */
  availableCents: bigint;
  /** What its open holds reserve. The posted balance is available + pending. */
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
  /** What posted it: a payment that moved at once, a hold's capture, or a refund. */
  kind: "PAYMENT" | "CAPTURE" | "REFUND";
  /** The refund that posted it (kind REFUND). */
  refundId?: string;
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
