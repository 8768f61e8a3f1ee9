/**
 * Domain types <-> payment.v1 messages. Money is bigint on both sides (int64
 * fields), so amounts pass through untouched; times are RFC 3339 strings.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type AccountSchema,
  type AuthorizePaymentRequest,
  type AuthorizePaymentResponseSchema,
  type CapturePaymentRequest,
  type CapturePaymentResponseSchema,
  EntryDirection,
  EntryKind,
  type GetAccountBalanceResponseSchema,
  HoldErrorCode,
  type LedgerEntrySchema,
  PaymentErrorCode,
  type PaymentErrorSchema,
  type PaymentSchema,
  PaymentStatus,
  RefundErrorCode,
  type RefundPaymentRequest,
  type RefundPaymentResponseSchema,
  type RefundSchema,
  RefundStatus,
  type VoidPaymentResponseSchema,
} from "../gen/payment/v1/payment_pb.ts";
import type {
  Account,
  AuthorizationResult,
  AuthorizePaymentCommand,
  Balance,
  CapturePaymentCommand,
  CaptureResult,
  Decline,
  DeclineCode,
  PaymentStatus as DomainPaymentStatus,
  HoldDeclineCode,
  LedgerEntry,
  Payment,
  PaymentState,
  Refund,
  RefundDeclineCode,
  RefundPaymentCommand,
  RefundResult,
  VoidResult,
} from "../payments/model.ts";

const STATUSES: Record<DomainPaymentStatus | PaymentState, PaymentStatus> = {
  AUTHORIZED: PaymentStatus.AUTHORIZED,
  DECLINED: PaymentStatus.DECLINED,
  DUPLICATE: PaymentStatus.DUPLICATE,
  HELD: PaymentStatus.HELD,
  CAPTURED: PaymentStatus.CAPTURED,
  VOIDED: PaymentStatus.VOIDED,
  EXPIRED: PaymentStatus.EXPIRED,
};

const DECLINE_CODES: Record<DeclineCode, PaymentErrorCode> = {
  INSUFFICIENT_FUNDS: PaymentErrorCode.INSUFFICIENT_FUNDS,
  ACCOUNT_NOT_FOUND: PaymentErrorCode.ACCOUNT_NOT_FOUND,
  SAME_ACCOUNT: PaymentErrorCode.SAME_ACCOUNT,
  CURRENCY_MISMATCH: PaymentErrorCode.CURRENCY_MISMATCH,
};

const HOLD_DECLINE_CODES: Record<HoldDeclineCode, HoldErrorCode> = {
  NOT_A_HOLD: HoldErrorCode.NOT_A_HOLD,
  CAPTURED: HoldErrorCode.CAPTURED,
  VOIDED: HoldErrorCode.VOIDED,
  EXPIRED: HoldErrorCode.EXPIRED,
  EXCEEDS_HOLD: HoldErrorCode.EXCEEDS_HOLD,
};

const REFUND_DECLINE_CODES: Record<RefundDeclineCode, RefundErrorCode> = {
  NOT_CAPTURED: RefundErrorCode.NOT_CAPTURED,
  EXCEEDS_REFUNDABLE: RefundErrorCode.EXCEEDS_REFUNDABLE,
  INSUFFICIENT_FUNDS: RefundErrorCode.INSUFFICIENT_FUNDS,
};

const REFUND_STATUSES: Record<RefundResult["status"], RefundStatus> = {
  REFUNDED: RefundStatus.REFUNDED,
  DECLINED: RefundStatus.DECLINED,
  DUPLICATE: RefundStatus.DUPLICATE,
};

const ENTRY_KINDS: Record<LedgerEntry["kind"], EntryKind> = {
  PAYMENT: EntryKind.PAYMENT,
  CAPTURE: EntryKind.CAPTURE,
  REFUND: EntryKind.REFUND,
};

export function authorizeCommandFrom(request: AuthorizePaymentRequest): AuthorizePaymentCommand {
  return {
    idempotencyKey: request.idempotencyKey,
    payerAccountId: request.payerAccountId,
    payeeAccountId: request.payeeAccountId,
    amountCents: request.amountCents,
    currency: request.currency,
    description: request.description,
    ...(request.hold ? { hold: { expiresInSeconds: request.hold.expiresInSeconds } } : {}),
  };
}

export function authorizeResponseFrom(
  result: AuthorizationResult,
): MessageInitShape<typeof AuthorizePaymentResponseSchema> {
  return {
    paymentId: result.paymentId,
    status: STATUSES[result.status],
    ...(result.decline ? { error: paymentErrorFrom(result.decline) } : {}),
    processedAt: result.processedAt,
    ...(result.holdExpiresAt ? { holdExpiresAt: result.holdExpiresAt } : {}),
  };
}

export function captureCommandFrom(request: CapturePaymentRequest): CapturePaymentCommand {
  return {
    idempotencyKey: request.idempotencyKey,
    paymentId: request.paymentId,
    amountCents: request.amountCents,
  };
}

export function captureResponseFrom(
  result: CaptureResult,
): MessageInitShape<typeof CapturePaymentResponseSchema> {
  return {
    paymentId: result.paymentId,
    status: STATUSES[result.status],
    ...(result.decline ? { error: holdErrorFrom(result.decline) } : {}),
    capturedAmountCents: result.capturedCents ?? 0n,
    releasedAmountCents: result.releasedCents ?? 0n,
    processedAt: result.status === "DECLINED" ? "" : result.processedAt,
  };
}

export function voidResponseFrom(result: VoidResult): MessageInitShape<typeof VoidPaymentResponseSchema> {
  return {
    paymentId: result.paymentId,
    status: STATUSES[result.status],
    ...(result.decline ? { error: holdErrorFrom(result.decline) } : {}),
    releasedAmountCents: result.releasedCents ?? 0n,
    processedAt: result.status === "DECLINED" ? "" : result.processedAt,
  };
}

export function refundCommandFrom(request: RefundPaymentRequest): RefundPaymentCommand {
  return {
    idempotencyKey: request.idempotencyKey,
    paymentId: request.paymentId,
    amountCents: request.amountCents,
    description: request.description,
  };
}

export function refundResponseFrom(
  result: RefundResult,
): MessageInitShape<typeof RefundPaymentResponseSchema> {
  return {
    refundId: result.refundId,
    paymentId: result.paymentId,
    status: REFUND_STATUSES[result.status],
    ...(result.decline ? { error: refundErrorFrom(result.decline) } : {}),
    processedAt: result.processedAt,
  };
}

export function paymentMessage(payment: Payment): MessageInitShape<typeof PaymentSchema> {
  return {
    paymentId: payment.paymentId,
    payerAccountId: payment.payerAccountId,
    payeeAccountId: payment.payeeAccountId,
    amountCents: payment.amountCents,
    currency: payment.currency,
    status: STATUSES[payment.status],
    description: payment.description,
    createdAt: payment.createdAt,
    updatedAt: payment.updatedAt,
    ...(payment.decline ? { error: paymentErrorFrom(payment.decline) } : {}),
    capturedAmountCents: payment.capturedCents,
    refundedAmountCents: payment.refundedCents,
    holdExpiresAt: payment.holdExpiresAt ?? "",
  };
}

export function refundMessage(refund: Refund): MessageInitShape<typeof RefundSchema> {
  return {
    refundId: refund.refundId,
    paymentId: refund.paymentId,
    amountCents: refund.amountCents,
    currency: refund.currency,
    status: REFUND_STATUSES[refund.status],
    ...(refund.decline ? { error: refundErrorFrom(refund.decline) } : {}),
    description: refund.description,
    createdAt: refund.createdAt,
  };
}

export function balanceMessage(balance: Balance): MessageInitShape<typeof GetAccountBalanceResponseSchema> {
  return {
    accountId: balance.accountId,
    availableBalanceCents: balance.availableCents,
    pendingBalanceCents: balance.pendingCents,
    currency: balance.currency,
  };
}

export function accountMessage(account: Account): MessageInitShape<typeof AccountSchema> {
  return {
    accountId: account.accountId,
    owner: account.owner,
    currency: account.currency,
    system: account.system,
    createdAt: account.createdAt,
    hot: account.hot,
  };
}

export function entryMessage(entry: LedgerEntry): MessageInitShape<typeof LedgerEntrySchema> {
  return {
    entryId: entry.entryId,
    paymentId: entry.paymentId,
    accountId: entry.accountId,
    direction: entry.direction === "DEBIT" ? EntryDirection.DEBIT : EntryDirection.CREDIT,
    amountCents: entry.amountCents,
    currency: entry.currency,
    balanceAfterCents: entry.balanceAfterCents,
    createdAt: entry.createdAt,
    kind: ENTRY_KINDS[entry.kind],
    refundId: entry.refundId ?? "",
  };
}

function paymentErrorFrom(decline: Decline): MessageInitShape<typeof PaymentErrorSchema> {
  return { code: DECLINE_CODES[decline.code], message: decline.message };
}

function holdErrorFrom(decline: Decline<HoldDeclineCode>) {
  return { code: HOLD_DECLINE_CODES[decline.code], message: decline.message };
}

function refundErrorFrom(decline: Decline<RefundDeclineCode>) {
  return { code: REFUND_DECLINE_CODES[decline.code], message: decline.message };
}
