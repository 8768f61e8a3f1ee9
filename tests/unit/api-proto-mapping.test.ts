import { create, fromBinary, isFieldSet, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { authorizeResponseFrom, entryMessage, paymentMessage } from "../../lib/api/proto-mapping.ts";
import {
  AuthorizePaymentResponseSchema,
  EntryDirection,
  LedgerEntrySchema,
  PaymentErrorCode,
  PaymentSchema,
  PaymentStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import { MAX_AMOUNT_CENTS } from "../../lib/payments/model.ts";

describe("proto mapping", () => {
  it("maps statuses and decline codes to the frozen enums", () => {
    const declined = authorizeResponseFrom({
      paymentId: "P",
      status: "DECLINED",
      decline: { code: "CURRENCY_MISMATCH", message: "EUR vs USD" },
      processedAt: "2024-05-01T10:00:00.000Z",
    });
    expect(declined).toEqual({
      paymentId: "P",
      status: PaymentStatus.DECLINED,
      error: { code: PaymentErrorCode.CURRENCY_MISMATCH, message: "EUR vs USD" },
      processedAt: "2024-05-01T10:00:00.000Z",
    });
    expect(
      authorizeResponseFrom({ paymentId: "P", status: "DUPLICATE", processedAt: "x" }),
    ).not.toHaveProperty("error");
    expect(authorizeResponseFrom({ paymentId: "P", status: "DUPLICATE", processedAt: "x" }).status).toBe(
      PaymentStatus.DUPLICATE,
    );
  });

  it("carries the largest amount exactly through int64 on the wire", () => {
    const message = create(
      PaymentSchema,
      paymentMessage({
        paymentId: "P",
        payerAccountId: "A",
        payeeAccountId: "B",
        amountCents: MAX_AMOUNT_CENTS,
        currency: "EUR",
        status: "AUTHORIZED",
        description: "",
        createdAt: "c",
        updatedAt: "u",
        capturedCents: MAX_AMOUNT_CENTS,
        refundedCents: 0n,
      }),
    );
    expect(fromBinary(PaymentSchema, toBinary(PaymentSchema, message)).amountCents).toBe(
      9_007_199_254_740_991n,
    );
  });

  it("maps entry directions and keeps negative balances (system accounts)", () => {
    const entry = create(
      LedgerEntrySchema,
      entryMessage({
        entryId: "E",
        paymentId: "P",
        accountId: "A",
        direction: "DEBIT",
        amountCents: 5n,
        currency: "EUR",
        balanceAfterCents: -5n,
        createdAt: "c",
        kind: "PAYMENT",
      }),
    );
    expect(entry.direction).toBe(EntryDirection.DEBIT);
    expect(fromBinary(LedgerEntrySchema, toBinary(LedgerEntrySchema, entry)).balanceAfterCents).toBe(-5n);
    expect(AuthorizePaymentResponseSchema.typeName).toBe("payment.v1.AuthorizePaymentResponse");
  });

  it("leaves balance_after unset on a hot account's credit, and keeps a zero balance after as set", () => {
    const base = {
      entryId: "E",
      paymentId: "P",
      accountId: "A",
      direction: "CREDIT",
      amountCents: 5n,
      currency: "EUR",
      createdAt: "c",
      kind: "PAYMENT",
    } as const;
    const roundTrip = (message: ReturnType<typeof entryMessage>) =>
      fromBinary(LedgerEntrySchema, toBinary(LedgerEntrySchema, create(LedgerEntrySchema, message)));
    const hotCredit = roundTrip(entryMessage(base));
    expect(hotCredit.balanceAfterCents).toBeUndefined();
    expect(isFieldSet(hotCredit, LedgerEntrySchema.field.balanceAfterCents)).toBe(false);
    const zero = roundTrip(entryMessage({ ...base, direction: "DEBIT", balanceAfterCents: 0n }));
    expect(isFieldSet(zero, LedgerEntrySchema.field.balanceAfterCents)).toBe(true);
    expect(zero.balanceAfterCents).toBe(0n);
  });
});
