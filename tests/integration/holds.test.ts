/**
 * Holds on a real ledger: a hold reserves (available drops, posted does not),
 * a capture posts all or part of it and releases the rest, a void or expiry
 * releases it, exactly once each, with one event per state change.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expireDueHolds } from "../../lib/payments/hold-expiry.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { type LedgerFixture, ledgerFixture, tableCounts, uniqueKey } from "../support/ledger.ts";
import { balances, eventsOf, expectServiceError, hold, makeDue } from "../support/lifecycle.ts";

let fx: LedgerFixture;
beforeAll(async () => {
  fx = await ledgerFixture();
});
afterAll(async () => {
  await fx?.close();
});
checkInvariantsAfterEach(() => fx?.pool);

const capture = (paymentId: string, amountCents = 0n, idempotencyKey = uniqueKey("capture")) =>
  fx.service.capturePayment({ idempotencyKey, paymentId, amountCents });

describe("a hold", () => {
  it("reserves the amount: available drops, pending rises, nothing posts; PaymentHeld; a replay is DUPLICATE", async () => {
    const payer = await fx.openFundedAccount(1000n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const key = uniqueKey("hold");
    const cmd = {
      idempotencyKey: key,
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 600n,
      currency: "EUR",
      description: "hotel",
      hold: { expiresInSeconds: 3600 },
    };
    const held = await fx.service.authorizePayment(cmd);
    expect(held).toMatchObject({ status: "HELD", holdExpiresAt: expect.stringMatching(/Z$/) });
    expect(Date.parse(held.holdExpiresAt ?? "") - Date.parse(held.processedAt)).toBe(3_600_000);
    expect(await balances(fx, payer)).toEqual({ available: 400n, held: 600n, posted: 1000n });
    expect(await balances(fx, payee)).toEqual({ available: 0n, held: 0n, posted: 0n });
    expect(
      await fx.service.listLedgerEntries({ accountId: payee.accountId, pageSize: 0, pageToken: "" }),
    ).toEqual({ entries: [], nextPageToken: "" });
    const payment = await fx.service.getPayment(held.paymentId);
    expect(payment).toMatchObject({ status: "HELD", capturedCents: 0n, holdExpiresAt: held.holdExpiresAt });
    expect(await eventsOf(fx.pool, held.paymentId)).toEqual([
      {
        type: "PaymentHeld",
        payload: expect.objectContaining({
          amount_cents: 600,
          expires_at: held.holdExpiresAt,
          description: "hotel",
        }),
      },
    ]);

    const replay = await fx.service.authorizePayment(cmd);
    expect(replay).toEqual({ ...held, status: "DUPLICATE" });
    // The same key without the hold is another request.
    const { hold: _, ...immediate } = cmd;
    await expectServiceError(fx.service.authorizePayment(immediate), "ALREADY_EXISTS", held.paymentId);
  });

  it("is declined as a payment would be, counting what other holds reserve", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    expect((await hold(fx, payer, payee, 70n)).status).toBe("HELD");
    const short = await hold(fx, payer, payee, 40n);
    expect(short).toMatchObject({ status: "DECLINED", decline: { code: "INSUFFICIENT_FUNDS" } });
    expect(short.holdExpiresAt).toBeUndefined();
    // A payment cannot spend what is held either.
    const pay = await fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 31n,
      currency: "EUR",
      description: "",
    });
    expect(pay.decline?.code).toBe("INSUFFICIENT_FUNDS");
    const usd = await fx.openFundedAccount(0n, "USD", "bob");
    expect((await hold(fx, payer, usd, 1n)).decline?.code).toBe("ACCOUNT_NOT_FOUND");
    expect((await hold(fx, payer, payer, 1n)).decline?.code).toBe("SAME_ACCOUNT");
    expect(await eventsOf(fx.pool, short.paymentId)).toEqual([
      { type: "PaymentDeclined", payload: expect.objectContaining({ error_code: "INSUFFICIENT_FUNDS" }) },
    ]);
    expect(await balances(fx, payer)).toEqual({ available: 30n, held: 70n, posted: 100n });
  });

  it("lasts at most HOLD_MAX_DURATION: 0 asks for that, more is refused and writes nothing", async () => {
    const service = new PaymentService(fx.store, { idempotencyKeyTtlSeconds: 86_400, holdMaxMs: 120_000 });
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const cmd = (expiresInSeconds: number) => ({
      idempotencyKey: uniqueKey(),
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 1n,
      currency: "EUR",
      description: "",
      hold: { expiresInSeconds },
    });
    const longest = await service.authorizePayment(cmd(0));
    expect(Date.parse(longest.holdExpiresAt ?? "") - Date.parse(longest.processedAt)).toBe(120_000);
    const before = await tableCounts(fx.pool);
    await expectServiceError(
      service.authorizePayment(cmd(121)),
      "INVALID_ARGUMENT",
      "hold.expires_in_seconds",
    );
    await expectServiceError(
      service.authorizePayment(cmd(-1)),
      "INVALID_ARGUMENT",
      "hold.expires_in_seconds",
    );
    expect(await tableCounts(fx.pool)).toEqual(before);
  });
});

describe("capture", () => {
  it("posts part of the hold, releases the rest, once: a replay is DUPLICATE, another key is declined", async () => {
    const payer = await fx.openFundedAccount(1000n);
    const payee = await fx.openFundedAccount(50n, "EUR", "bob");
    const { paymentId } = await hold(fx, payer, payee, 600n);
    const key = uniqueKey("capture");
    const captured = await capture(paymentId, 450n, key);
    expect(captured).toMatchObject({ status: "CAPTURED", capturedCents: 450n, releasedCents: 150n });
    expect(await balances(fx, payer)).toEqual({ available: 550n, held: 0n, posted: 550n });
    expect(await balances(fx, payee)).toEqual({ available: 500n, held: 0n, posted: 500n });
    expect(await fx.service.getPayment(paymentId)).toMatchObject({ status: "CAPTURED", capturedCents: 450n });
    const [entry] = (
      await fx.service.listLedgerEntries({ accountId: payee.accountId, pageSize: 1, pageToken: "" })
    ).entries;
    expect(entry).toMatchObject({ paymentId, kind: "CAPTURE", direction: "CREDIT", amountCents: 450n });

    expect(await capture(paymentId, 450n, key)).toEqual({ ...captured, status: "DUPLICATE" });
    await expectServiceError(capture(paymentId, 100n, key), "ALREADY_EXISTS", paymentId);
    const again = await capture(paymentId, 100n);
    expect(again).toMatchObject({ status: "DECLINED", decline: { code: "CAPTURED" } });
    expect(await eventsOf(fx.pool, paymentId)).toEqual([
      { type: "PaymentHeld", payload: expect.anything() },
      {
        type: "PaymentCaptured",
        payload: expect.objectContaining({ amount_cents: 450, released_amount_cents: 150 }),
      },
    ]);
  });

  it("0 captures all of it; more than held is declined and keeps nothing, its key included", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const { paymentId } = await hold(fx, payer, payee, 80n);
    const key = uniqueKey("capture");
    const before = await tableCounts(fx.pool);
    expect(await capture(paymentId, 81n, key)).toMatchObject({
      status: "DECLINED",
      decline: { code: "EXCEEDS_HOLD", message: "81 is more than the 80 held" },
    });
    expect(await tableCounts(fx.pool)).toEqual(before);
    // The key kept nothing: used again for another amount it captures.
    expect(await capture(paymentId, 0n, key)).toMatchObject({
      status: "CAPTURED",
      capturedCents: 80n,
      releasedCents: 0n,
    });
    expect(await balances(fx, payee)).toEqual({ available: 80n, held: 0n, posted: 80n });
  });

  it("of a payment that was never held, or is not there: NOT_A_HOLD, nothing written", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const paid = await fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 10n,
      currency: "EUR",
      description: "",
    });
    const before = await tableCounts(fx.pool);
    expect((await capture(paid.paymentId)).decline?.code).toBe("NOT_A_HOLD");
    expect((await fx.service.voidPayment(paid.paymentId)).decline?.code).toBe("NOT_A_HOLD");
    expect((await capture("01ARZ3NDEKTSV4RRFFQ69G5FAV")).decline?.code).toBe("NOT_A_HOLD");
    expect(await tableCounts(fx.pool)).toEqual(before);
    await expectServiceError(capture("nope"), "INVALID_ARGUMENT", "payment_id");
    await expectServiceError(capture(paid.paymentId, -1n), "INVALID_ARGUMENT", "amount_cents");
  });
});

describe("void", () => {
  it("releases the hold; voiding again answers VOIDED; a capture after it is declined, and a void after a capture", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const { paymentId } = await hold(fx, payer, payee, 60n);
    const voided = await fx.service.voidPayment(paymentId);
    expect(voided).toMatchObject({ status: "VOIDED", releasedCents: 60n });
    expect(await balances(fx, payer)).toEqual({ available: 100n, held: 0n, posted: 100n });
    expect(await fx.service.voidPayment(paymentId)).toEqual(voided);
    expect((await capture(paymentId)).decline).toEqual({
      code: "VOIDED",
      message: `payment ${paymentId} was voided`,
    });
    expect((await fx.service.getPayment(paymentId)).status).toBe("VOIDED");
    expect((await eventsOf(fx.pool, paymentId)).map((e) => e.type)).toEqual(["PaymentHeld", "PaymentVoided"]);

    const other = await hold(fx, payer, payee, 10n);
    await capture(other.paymentId);
    expect((await fx.service.voidPayment(other.paymentId)).decline?.code).toBe("CAPTURED");
  });
});

describe("expiry", () => {
  it("the sweep releases due holds, each with PaymentExpired, and leaves the others", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const due = await hold(fx, payer, payee, 30n);
    const open = await hold(fx, payer, payee, 20n);
    await makeDue(fx.pool, due.paymentId);
    let released = 0;
    for (
      let batch = await expireDueHolds(fx.store, 10);
      batch > 0;
      batch = await expireDueHolds(fx.store, 10)
    ) {
      released += batch;
    }
    expect(released).toBeGreaterThanOrEqual(1);
    expect((await fx.service.getPayment(due.paymentId)).status).toBe("EXPIRED");
    expect((await fx.service.getPayment(open.paymentId)).status).toBe("HELD");
    expect(await balances(fx, payer)).toEqual({ available: 80n, held: 20n, posted: 100n });
    expect(await eventsOf(fx.pool, due.paymentId)).toEqual([
      { type: "PaymentHeld", payload: expect.anything() },
      { type: "PaymentExpired", payload: expect.objectContaining({ amount_cents: 30 }) },
    ]);
  });

  it("a hold found past its expiry by a capture or a void is expired then and there, and declined EXPIRED", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const a = await hold(fx, payer, payee, 30n);
    const b = await hold(fx, payer, payee, 20n);
    await makeDue(fx.pool, a.paymentId);
    await makeDue(fx.pool, b.paymentId);
    expect((await capture(a.paymentId)).decline?.code).toBe("EXPIRED");
    expect((await fx.service.voidPayment(b.paymentId)).decline?.code).toBe("EXPIRED");
    expect(await balances(fx, payer)).toEqual({ available: 100n, held: 0n, posted: 100n });
    for (const { paymentId } of [a, b]) {
      expect((await eventsOf(fx.pool, paymentId)).map((e) => e.type)).toEqual([
        "PaymentHeld",
        "PaymentExpired",
      ]);
      expect((await capture(paymentId)).decline?.code).toBe("EXPIRED");
    }
  });
});

describe("hot accounts", () => {
  it("a hot payer's holds fold its credits first; a hot payee is credited by the capture without a lock", async () => {
    const shop = await fx.openFundedAccount(0n, "EUR", "shop", true);
    const customer = await fx.openFundedAccount(500n, "EUR", "carol");
    const payout = await fx.openFundedAccount(0n, "EUR", "dave");
    const { paymentId } = await hold(fx, customer, shop, 300n);
    expect((await capture(paymentId)).status).toBe("CAPTURED");
    expect(await balances(fx, shop)).toEqual({ available: 300n, held: 0n, posted: 300n });
    // The shop holds out of credits not yet folded into its row.
    const shopHold = await hold(fx, shop, payout, 250n);
    expect(shopHold.status).toBe("HELD");
    expect(await balances(fx, shop)).toEqual({ available: 50n, held: 250n, posted: 300n });
    expect((await capture(shopHold.paymentId, 100n)).status).toBe("CAPTURED");
    expect(await balances(fx, shop)).toEqual({ available: 200n, held: 0n, posted: 200n });
    expect(await balances(fx, payout)).toEqual({ available: 100n, held: 0n, posted: 100n });
  });
});
