/**
 * Domain types <-> payment.v1 messages. Money is bigint on both sides (int64
 * fields), so amounts pass through untouched; times are RFC 3339 strings.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type AccountSchema,
  type AuthorizePaymentRequest,
  type AuthorizePaymentResponseSchema,
  EntryDirection,
  type GetAccountBalanceResponseSchema,
  type LedgerEntrySchema,
  PaymentErrorCode,
  type PaymentErrorSchema,
  type PaymentSchema,
  PaymentStatus,
} from "../gen/payment/v1/payment_pb.ts";
import type {
  Account,
  AuthorizationResult,
  AuthorizePaymentCommand,
  Balance,
  Decline,
  DeclineCode,
  PaymentStatus as DomainPaymentStatus,
  LedgerEntry,
  Payment,
} from "../payments/model.ts";

const STATUSES: Record<DomainPaymentStatus, PaymentStatus> = {
  AUTHORIZED: PaymentStatus.AUTHORIZED,
  DECLINED: PaymentStatus.DECLINED,
  DUPLICATE: PaymentStatus.DUPLICATE,
};

const DECLINE_CODES: Record<DeclineCode, PaymentErrorCode> = {
  INSUFFICIENT_FUNDS: PaymentErrorCode.INSUFFICIENT_FUNDS,
  ACCOUNT_NOT_FOUND: PaymentErrorCode.ACCOUNT_NOT_FOUND,
  SAME_ACCOUNT: PaymentErrorCode.SAME_ACCOUNT,
  CURRENCY_MISMATCH: PaymentErrorCode.CURRENCY_MISMATCH,
};

export function authorizeCommandFrom(request: AuthorizePaymentRequest): AuthorizePaymentCommand {
  return {
    idempotencyKey: request.idempotencyKey,
    payerAccountId: request.payerAccountId,
    payeeAccountId: request.payeeAccountId,
    amountCents: request.amountCents,
    currency: request.currency,
    description: request.description,
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
  };
}

function paymentErrorFrom(decline: Decline): MessageInitShape<typeof PaymentErrorSchema> {
  return { code: DECLINE_CODES[decline.code], message: decline.message };
}
