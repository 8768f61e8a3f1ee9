import type {
  Account,
  Balance,
  Decline,
  HoldDeclineCode,
  LedgerEntry,
  Payment,
  Refund,
  RefundDeclineCode,
} from "./model.ts";

/** What every write to the ledger carries besides its own fields: whose call, until when. */
export interface WriteContext {
  /** Whose idempotency key it is: the caller's subject ('' for in-process callers). */
  owner: string;
  /** Epoch ms after which the caller no longer waits: the store rolls back rather than commit later. */
  deadline: number | undefined;
  /** W3C traceparent of the call's span, stored with the outbox event (undefined: none). */
  traceparent?: string | undefined;
  /** See PaymentCaller.onCommitStarted. */
  onCommitStarted?: (() => void) | undefined;
}

/** What the ledger transaction decided, as stored. */
export interface StoredAuthorization {
  outcome: "NEW" | "REPLAY" | "KEY_CONFLICT";
  paymentId: string;
  status: "AUTHORIZED" | "DECLINED" | "HELD";
  decline?: Decline;
  processedAt: Date;
  holdExpiresAt?: Date;
}

export interface AuthorizeInput extends WriteContext {
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
  /** Seconds the amount is held instead of moved; undefined moves it at once. */
  holdSeconds?: number | undefined;
}

export interface CaptureInput extends WriteContext {
  paymentId: string;
  eventId: string;
  debitEntryId: string;
  creditEntryId: string;
  idempotencyKey: string;
  requestHash: string;
  keyTtlSeconds: number;
  /** 0n: all of the hold. */
  amountCents: bigint;
}

export interface StoredCapture {
  /** KEY_CONFLICT: paymentId is the payment the key was used for. */
  outcome: "NEW" | "REPLAY" | "KEY_CONFLICT";
  paymentId: string;
  status: "CAPTURED" | "DECLINED";
  decline?: Decline<HoldDeclineCode>;
  capturedCents?: bigint;
  releasedCents?: bigint;
  processedAt: Date;
}

export interface VoidInput extends Omit<WriteContext, "owner"> {
  paymentId: string;
  eventId: string;
}

export interface StoredVoid {
  /** REPLAY: voided by an earlier call. */
  outcome: "NEW" | "REPLAY";
  status: "VOIDED" | "DECLINED";
  decline?: Decline<HoldDeclineCode>;
  releasedCents?: bigint;
  processedAt: Date;
}

export interface RefundInput extends WriteContext {
  refundId: string;
  eventId: string;
  debitEntryId: string;
  creditEntryId: string;
  idempotencyKey: string;
  requestHash: string;
  keyTtlSeconds: number;
  paymentId: string;
  amountCents: bigint;
  description: string;
}

export interface StoredRefund {
  /** KEY_CONFLICT: refundId names what the key was used for. NOT_FOUND: no such payment, nothing written. */
  outcome: "NEW" | "REPLAY" | "KEY_CONFLICT" | "NOT_FOUND";
  refundId: string;
  /** KEY_CONFLICT: whether refundId is a refund or a payment (a payment's or capture's key); unknown from an older ledger. */
  keyUsedBy?: "refund" | "payment";
  status: "REFUNDED" | "DECLINED";
  decline?: Decline<RefundDeclineCode>;
  processedAt: Date;
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
  capture(input: CaptureInput): Promise<StoredCapture>;
  voidHold(input: VoidInput): Promise<StoredVoid>;
  refund(input: RefundInput): Promise<StoredRefund>;
  /** Releases up to eventIds.length holds past their expiry, one event id each; how many it released. */
  expireHolds(eventIds: string[], context: Omit<WriteContext, "owner">): Promise<number>;
  createAccount(account: NewAccount): Promise<Account>;
  findAccount(accountId: string): Promise<Account | undefined>;
  findPayment(paymentId: string): Promise<Payment | undefined>;
  /** The payment's refunds, oldest first. */
  listRefunds(paymentId: string): Promise<Refund[]>;
  findBalance(accountId: string): Promise<Balance | undefined>;
  /** The account's entries older than `afterEntryId` (all when undefined), newest first. */
  listEntries(accountId: string, limit: number, afterEntryId: string | undefined): Promise<LedgerEntry[]>;
}
