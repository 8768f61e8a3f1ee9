/**
 * Taking over an expired idempotency key, on a real ledger through the pooler.
 * Keys of one owner are one scope across AuthorizePayment, CapturePayment and
 * RefundPayment, and a key past its expiry may be reused before retention
 * deletes it: whichever call takes it over must leave nothing of the key's
 * earlier use behind, or a later conflict on that key names the wrong thing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Account } from "../../lib/payments/model.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";
import { expectServiceError, hold } from "../support/lifecycle.ts";

let fx: LedgerFixture;
beforeAll(async () => {
  fx = await ledgerFixture();
});
afterAll(async () => {
  await fx?.close();
});
checkInvariantsAfterEach(() => fx?.pool);

const BOB = { owner: "bob" };

const pay = (payer: Account, payee: Account, amountCents: bigint, idempotencyKey = uniqueKey("pay")) =>
  fx.service.authorizePayment(
    {
      idempotencyKey,
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents,
      currency: "EUR",
      description: "order",
    },
    { owner: payer.owner },
  );

const refund = (paymentId: string, amountCents: bigint, idempotencyKey: string) =>
  fx.service.refundPayment({ idempotencyKey, paymentId, amountCents, description: "" }, BOB);

/** Ages a key past its expiry, as time passing would, without waiting for a clock. */
async function expire(owner: string, key: string): Promise<void> {
  const { rowCount } = await fx.pool.query(
    "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE owner = $1 AND key = $2",
    [owner, key],
  );
  expect(rowCount).toBe(1);
}

/** Each column of the key's row other than owner and key, as null or set. */
async function shapeOf(owner: string, key: string): Promise<Record<string, boolean>> {
  const { rows } = await fx.pool.query<{ row: Record<string, unknown> }>(
    "SELECT to_jsonb(k) - 'owner' - 'key' AS row FROM idempotency_keys k WHERE owner = $1 AND key = $2",
    [owner, key],
  );
  expect(rows).toHaveLength(1);
  return Object.fromEntries(
    Object.entries(rows[0]?.row ?? {}).map(([column, value]) => [column, value !== null]),
  );
}

describe("an expired key taken over", () => {
  it("by a payment keeps nothing of the refund it was used for: a later refund's conflict names the payment", async () => {
    const alice = await fx.openFundedAccount(1_000n, "EUR", "alice");
    const bob = await fx.openFundedAccount(1_000n, "EUR", "bob");
    const key = uniqueKey("reused");
    const first = await pay(alice, bob, 100n);
    const oldRefund = await refund(first.paymentId, 10n, key);
    expect(oldRefund.status).toBe("REFUNDED");
    await expire("bob", key);

    const second = await pay(bob, alice, 50n, key);
    expect(second.status).toBe("AUTHORIZED");

    const conflict = await refund(second.paymentId, 5n, key).catch((e: unknown) => e);
    await expectServiceError(Promise.reject(conflict), "ALREADY_EXISTS", second.paymentId);
    expect((conflict as Error).message).not.toContain(oldRefund.refundId);
    expect(await shapeOf("bob", key)).toEqual(await shapeOf("bob", (await payWithFreshKey(bob, alice)).key));
  });

  it("by a capture or a refund leaves the row as a fresh key of that call would", async () => {
    const alice = await fx.openFundedAccount(1_000n, "EUR", "alice");
    const bob = await fx.openFundedAccount(1_000n, "EUR", "bob");
    const paid = await pay(alice, bob, 100n);

    // A refund's key, taken over by a capture of bob's own hold.
    const refundKey = uniqueKey("reused");
    await refund(paid.paymentId, 10n, refundKey);
    await expire("bob", refundKey);
    const held = await holdAs(bob, alice);
    const captured = await fx.service.capturePayment(
      { idempotencyKey: refundKey, paymentId: held.paymentId, amountCents: 0n },
      BOB,
    );
    expect(captured.status).toBe("CAPTURED");
    const freshCapture = uniqueKey("fresh");
    await fx.service.capturePayment(
      { idempotencyKey: freshCapture, paymentId: (await holdAs(bob, alice)).paymentId, amountCents: 0n },
      BOB,
    );
    expect(await shapeOf("bob", refundKey)).toEqual(await shapeOf("bob", freshCapture));

    // A payment's key, taken over by a refund.
    const payment = await payWithFreshKey(bob, alice);
    await expire("bob", payment.key);
    const back = await fx.service.refundPayment(
      { idempotencyKey: payment.key, paymentId: paid.paymentId, amountCents: 1n, description: "" },
      BOB,
    );
    expect(back.status).toBe("REFUNDED");
    const freshRefund = uniqueKey("fresh");
    await refund(paid.paymentId, 1n, freshRefund);
    expect(await shapeOf("bob", payment.key)).toEqual(await shapeOf("bob", freshRefund));
    await expectServiceError(
      refund(paid.paymentId, 2n, payment.key),
      "ALREADY_EXISTS",
      `used for refund ${back.refundId}`,
    );
  });

  it("by many at once, is taken over by exactly one: the others replay its outcome", async () => {
    const alice = await fx.openFundedAccount(1_000n, "EUR", "alice");
    const bob = await fx.openFundedAccount(1_000n, "EUR", "bob");
    const paid = await pay(alice, bob, 100n);
    const payment = await payWithFreshKey(bob, alice);
    await expire("bob", payment.key);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => refund(paid.paymentId, 7n, payment.key)),
    );
    expect(new Set(results.map((r) => r.refundId)).size).toBe(1);
    expect(results.filter((r) => r.status === "REFUNDED")).toHaveLength(1);
    expect(results.filter((r) => r.status === "DUPLICATE")).toHaveLength(19);
    expect(await fx.service.listRefunds(paid.paymentId)).toHaveLength(1);
  });
});

async function payWithFreshKey(payer: Account, payee: Account) {
  const key = uniqueKey("fresh");
  const made = await pay(payer, payee, 1n, key);
  return { ...made, key };
}

async function holdAs(payer: Account, payee: Account) {
  const made = await hold(fx, payer, payee, 5n);
  expect(made.status).toBe("HELD");
  return made;
}
