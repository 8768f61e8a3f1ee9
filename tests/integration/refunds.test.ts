/**
 * Refunds on a real ledger: partial and repeated, never more in all than
 * moved, debiting the payee and crediting the payer, declined precisely
 * (recorded, with an event) when they cannot be made, and listed with the
 * payment and in both statements.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Account, AuthorizationResult } from "../../lib/payments/model.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { type LedgerFixture, ledgerFixture, tableCounts, uniqueKey } from "../support/ledger.ts";
import { balances, eventsOf, expectServiceError, hold } from "../support/lifecycle.ts";

let fx: LedgerFixture;
beforeAll(async () => {
  fx = await ledgerFixture();
});
afterAll(async () => {
  await fx?.close();
});
checkInvariantsAfterEach(() => fx?.pool);

function pay(payer: Account, payee: Account, amountCents: bigint): Promise<AuthorizationResult> {
  return fx.service.authorizePayment({
    idempotencyKey: uniqueKey("pay"),
    payerAccountId: payer.accountId,
    payeeAccountId: payee.accountId,
    amountCents,
    currency: payer.currency,
    description: "order",
  });
}

const refund = (
  paymentId: string,
  amountCents: bigint,
  idempotencyKey = uniqueKey("refund"),
  description = "",
) => fx.service.refundPayment({ idempotencyKey, paymentId, amountCents, description });

describe("refunds", () => {
  it("partial and repeated, up to what moved: each debits the payee, credits the payer, and is listed", async () => {
    const payer = await fx.openFundedAccount(1000n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const { paymentId } = await pay(payer, payee, 500n);
    const first = await refund(paymentId, 200n, uniqueKey(), "damaged");
    expect(first).toMatchObject({ status: "REFUNDED", paymentId });
    const second = await refund(paymentId, 300n);
    expect(second.status).toBe("REFUNDED");
    const third = await refund(paymentId, 1n);
    expect(third).toMatchObject({
      status: "DECLINED",
      decline: { code: "EXCEEDS_REFUNDABLE", message: "at most 0 of the 500 paid can still be refunded" },
    });
    expect(await balances(fx, payer)).toEqual({ available: 1000n, held: 0n, posted: 1000n });
    expect(await balances(fx, payee)).toEqual({ available: 0n, held: 0n, posted: 0n });
    expect(await fx.service.getPayment(paymentId)).toMatchObject({
      status: "AUTHORIZED",
      capturedCents: 500n,
      refundedCents: 500n,
    });
    expect(await fx.service.listRefunds(paymentId)).toEqual([
      expect.objectContaining({
        refundId: first.refundId,
        amountCents: 200n,
        status: "REFUNDED",
        description: "damaged",
      }),
      expect.objectContaining({ refundId: second.refundId, amountCents: 300n, status: "REFUNDED" }),
      expect.objectContaining({
        refundId: third.refundId,
        amountCents: 1n,
        status: "DECLINED",
        decline: expect.objectContaining({ code: "EXCEEDS_REFUNDABLE" }),
      }),
    ]);
    const payeeEntries = await fx.service.listLedgerEntries({
      accountId: payee.accountId,
      pageSize: 0,
      pageToken: "",
    });
    expect(payeeEntries.entries.map((e) => [e.kind, e.direction, e.amountCents, e.refundId ?? ""])).toEqual([
      ["REFUND", "DEBIT", 300n, second.refundId],
      ["REFUND", "DEBIT", 200n, first.refundId],
      ["PAYMENT", "CREDIT", 500n, ""],
    ]);
    expect(payeeEntries.entries.every((e) => e.paymentId === paymentId)).toBe(true);
    expect(
      (await eventsOf(fx.pool, paymentId)).map((e) => [e.type, e.payload.refunded_amount_cents]),
    ).toEqual([
      ["PaymentAuthorized", undefined],
      ["PaymentRefunded", 200],
      ["PaymentRefunded", 500],
      ["PaymentRefundDeclined", undefined],
    ]);
  });

  it("a key a payment used is refused for a refund, named as the payment's", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const paymentKey = uniqueKey("pay");
    const paid = await fx.service.authorizePayment({
      idempotencyKey: paymentKey,
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 1n,
      currency: payer.currency,
      description: "order",
    });
    await expectServiceError(
      refund(paid.paymentId, 1n, paymentKey),
      "ALREADY_EXISTS",
      `used for payment ${paid.paymentId}`,
    );
  });

  it("a replay is DUPLICATE of the original refund, declined ones too; the key with other parameters is refused", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const { paymentId } = await pay(payer, payee, 50n);
    const key = uniqueKey("refund");
    const made = await refund(paymentId, 20n, key);
    expect(await refund(paymentId, 20n, key)).toEqual({ ...made, status: "DUPLICATE" });
    await expectServiceError(
      refund(paymentId, 21n, key),
      "ALREADY_EXISTS",
      `used for refund ${made.refundId}`,
    );
    const tooMuch = uniqueKey("refund");
    const declined = await refund(paymentId, 31n, tooMuch);
    expect(declined.status).toBe("DECLINED");
    expect(await refund(paymentId, 31n, tooMuch)).toEqual({ ...declined, status: "DUPLICATE" });
    expect(await balances(fx, payee)).toEqual({ available: 30n, held: 0n, posted: 30n });
  });

  it("the payee cannot cover it: INSUFFICIENT_FUNDS, recorded, nothing moved; held money does not cover it either", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const elsewhere = await fx.openFundedAccount(0n, "EUR", "erin");
    const { paymentId } = await pay(payer, payee, 100n);
    expect((await pay(payee, elsewhere, 70n)).status).toBe("AUTHORIZED");
    expect((await hold(fx, payee, elsewhere, 20n)).status).toBe("HELD");
    const before = await balances(fx, payee);
    const short = await refund(paymentId, 11n);
    expect(short).toMatchObject({
      status: "DECLINED",
      decline: {
        code: "INSUFFICIENT_FUNDS",
        message: "payee account has insufficient funds for this refund",
      },
    });
    expect(await balances(fx, payee)).toEqual(before);
    expect((await refund(paymentId, 10n)).status).toBe("REFUNDED");
    expect(await eventsOf(fx.pool, paymentId)).toContainEqual({
      type: "PaymentRefundDeclined",
      payload: expect.objectContaining({ refund_id: short.refundId, error_code: "INSUFFICIENT_FUNDS" }),
    });
  });

  it("of a hold: nothing until captured, then at most what the capture posted", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const { paymentId } = await hold(fx, payer, payee, 80n);
    expect((await refund(paymentId, 1n)).decline?.code).toBe("NOT_CAPTURED");
    await fx.service.capturePayment({ idempotencyKey: uniqueKey(), paymentId, amountCents: 50n });
    expect((await refund(paymentId, 51n)).decline?.code).toBe("EXCEEDS_REFUNDABLE");
    expect((await refund(paymentId, 50n)).status).toBe("REFUNDED");
    expect(await balances(fx, payer)).toEqual({ available: 100n, held: 0n, posted: 100n });
    expect(await fx.service.getPayment(paymentId)).toMatchObject({
      status: "CAPTURED",
      capturedCents: 50n,
      refundedCents: 50n,
    });
    const declinedPayment = await pay(payee, payer, 1_000n);
    expect(declinedPayment.status).toBe("DECLINED");
    expect((await refund(declinedPayment.paymentId, 1n)).decline?.code).toBe("NOT_CAPTURED");
  });

  it("a hot payer is credited through its unfolded credits; a hot payee's credits are folded to pay it back", async () => {
    const shop = await fx.openFundedAccount(0n, "EUR", "shop", true);
    const customer = await fx.openFundedAccount(300n, "EUR", "carol");
    const { paymentId } = await pay(customer, shop, 200n);
    expect((await refund(paymentId, 150n)).status).toBe("REFUNDED");
    expect(await balances(fx, shop)).toEqual({ available: 50n, held: 0n, posted: 50n });
    const back = await pay(shop, customer, 50n);
    expect((await refund(back.paymentId, 50n)).status).toBe("REFUNDED");
    expect(await balances(fx, customer)).toEqual({ available: 250n, held: 0n, posted: 250n });
  });

  it("refuses what could never be a refund with INVALID_ARGUMENT, and an unknown payment NOT_FOUND, writing nothing", async () => {
    const before = await tableCounts(fx.pool);
    await expectServiceError(refund("01ARZ3NDEKTSV4RRFFQ69G5FAV", 0n), "INVALID_ARGUMENT", "amount_cents");
    await expectServiceError(refund("x", 1n), "INVALID_ARGUMENT", "payment_id");
    await expectServiceError(
      refund("01ARZ3NDEKTSV4RRFFQ69G5FAV", 1n, ""),
      "INVALID_ARGUMENT",
      "idempotency_key",
    );
    await expectServiceError(refund("01ARZ3NDEKTSV4RRFFQ69G5FAV", 1n), "NOT_FOUND", "payment");
    expect(await tableCounts(fx.pool)).toEqual(before);
  });
});
