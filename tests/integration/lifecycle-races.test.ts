/**
 * Exactly one winner, under real concurrency on Postgres: a capture racing a
 * void, an expiry, another capture; refunds racing each other past what
 * moved; and holds, captures, refunds and payments in both directions at
 * once, hot accounts included, never deadlocking and keeping every invariant.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expireDueHolds } from "../../lib/payments/hold-expiry.ts";
import type { Account, AuthorizationResult } from "../../lib/payments/model.ts";
import { brokenInvariants, checkInvariantsAfterEach } from "../support/invariants.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";
import { balances, eventsOf, hold } from "../support/lifecycle.ts";

let fx: LedgerFixture;
beforeAll(async () => {
  fx = await ledgerFixture({ poolMax: 24, rollUpEvery: 10 });
});
afterAll(async () => {
  await fx?.close();
});
checkInvariantsAfterEach(() => fx?.pool);

const capture = (paymentId: string, amountCents = 0n) =>
  fx.service.capturePayment({ idempotencyKey: uniqueKey("capture"), paymentId, amountCents });

/** Runs the tasks at once, in an order that changes from round to round. */
function together<T extends unknown[]>(
  round: number,
  tasks: { [K in keyof T]: () => Promise<T[K]> },
): Promise<T> {
  const list = tasks as unknown as (() => Promise<unknown>)[];
  const results: Promise<unknown>[] = new Array(list.length);
  for (let n = 0; n < list.length; n++) {
    const i = (n + round) % list.length;
    results[i] = (list[i] as () => Promise<unknown>)();
  }
  return Promise.all(results) as Promise<T>;
}

async function holdState(paymentId: string) {
  // Postgres compares the microseconds; a JS Date would round both to the same millisecond.
  const { rows } = await fx.pool.query<{ state: string; settled_before_expiry: boolean | null }>(
    "SELECT state, settled_at < expires_at AS settled_before_expiry FROM holds WHERE payment_id = $1",
    [paymentId],
  );
  return rows[0];
}

describe("exactly one of capture, void and expiry ends a hold", () => {
  it("a capture racing a void: one wins, the other is declined with the winner's name", async () => {
    const payer = await fx.openFundedAccount(10_000n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const winners = { CAPTURED: 0, VOIDED: 0 };
    for (let round = 0; round < 30; round++) {
      const { paymentId } = await hold(fx, payer, payee, 100n);
      const [captured, voided] = await together(round, [
        () => capture(paymentId, 60n),
        () => fx.service.voidPayment(paymentId),
      ]);
      const state = (await holdState(paymentId))?.state;
      if (captured?.status === "CAPTURED") {
        expect(voided).toMatchObject({ status: "DECLINED", decline: { code: "CAPTURED" } });
        expect(state).toBe("CAPTURED");
        winners.CAPTURED += 1;
      } else {
        expect(voided?.status).toBe("VOIDED");
        expect(captured).toMatchObject({ status: "DECLINED", decline: { code: "VOIDED" } });
        expect(state).toBe("VOIDED");
        winners.VOIDED += 1;
      }
      expect((await eventsOf(fx.pool, paymentId)).length).toBe(2);
    }
    expect(await balances(fx, payer)).toEqual({
      available: 10_000n - 60n * BigInt(winners.CAPTURED),
      held: 0n,
      posted: 10_000n - 60n * BigInt(winners.CAPTURED),
    });
  });

  it("two captures under different keys: one posts, the other is declined CAPTURED", async () => {
    const payer = await fx.openFundedAccount(10_000n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    for (let round = 0; round < 20; round++) {
      const { paymentId } = await hold(fx, payer, payee, 100n);
      const results = await together(round, [() => capture(paymentId, 30n), () => capture(paymentId, 40n)]);
      const made = results.filter((r) => r.status === "CAPTURED");
      expect(made).toHaveLength(1);
      expect(results.filter((r) => r.decline?.code === "CAPTURED")).toHaveLength(1);
      expect((await fx.service.getPayment(paymentId)).capturedCents).toBe(made[0]?.capturedCents);
    }
  });

  it("a capture, a void and the expiry sweep racing the hold's own expiry: one wins, never a capture after it", async () => {
    const payer = await fx.openFundedAccount(100_000n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const holds: AuthorizationResult[] = [];
    for (let i = 0; i < 24; i++) holds.push(await hold(fx, payer, payee, 100n, 1));
    const expiresAt = Math.max(...holds.map((h) => Date.parse(h.holdExpiresAt ?? "")));
    // Start every race around the expiry: some before it, some after.
    const outcomes = await Promise.all(
      holds.map(async ({ paymentId }, i) => {
        const at = Date.parse(holds[i]?.holdExpiresAt ?? "") + ((i % 6) - 3) * 15;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
        const tasks = [
          () => capture(paymentId).then((r) => r.status),
          () => expireDueHolds(fx.store, 5).then(() => "SWEPT"),
          ...(i % 3 === 0 ? [() => fx.service.voidPayment(paymentId).then((r) => r.status)] : []),
        ];
        await together<string[]>(i, tasks);
        return paymentId;
      }),
    );
    // What the sweep still finds due after every race has run.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt + 50 - Date.now())));
    while ((await expireDueHolds(fx.store, 50)) > 0);
    const seen = new Set<string>();
    for (const paymentId of outcomes) {
      const now = await holdState(paymentId);
      expect(now?.state).not.toBe("HELD");
      seen.add(now?.state ?? "");
      if (now?.state === "CAPTURED") {
        expect(now.settled_before_expiry).toBe(true);
      }
      const ends = (await eventsOf(fx.pool, paymentId)).filter((e) => e.type !== "PaymentHeld");
      expect(ends.map((e) => e.type)).toEqual([
        { CAPTURED: "PaymentCaptured", VOIDED: "PaymentVoided", EXPIRED: "PaymentExpired" }[now?.state ?? ""],
      ]);
    }
    expect(seen.has("EXPIRED")).toBe(true);
    expect(await balances(fx, payer)).toMatchObject({ held: 0n });
  });
});

describe("refunds racing each other", () => {
  it("twenty concurrent refunds of a tenth each: exactly ten are made, the rest declined EXCEEDS_REFUNDABLE", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n, "EUR", "bob");
    const { paymentId } = await fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 100n,
      currency: "EUR",
      description: "",
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        fx.service.refundPayment({
          idempotencyKey: uniqueKey(),
          paymentId,
          amountCents: 10n,
          description: "",
        }),
      ),
    );
    expect(results.filter((r) => r.status === "REFUNDED")).toHaveLength(10);
    expect(results.filter((r) => r.decline?.code === "EXCEEDS_REFUNDABLE")).toHaveLength(10);
    expect((await fx.service.getPayment(paymentId)).refundedCents).toBe(100n);
  });
});

describe("everything at once, in both directions, hot accounts included", () => {
  it("holds, captures, voids, refunds and payments among ordinary and hot accounts never deadlock and keep every invariant", async () => {
    const accounts: Account[] = [];
    for (let i = 0; i < 6; i++) accounts.push(await fx.openFundedAccount(50_000n, "EUR", `o${i}`));
    const shop = await fx.openFundedAccount(0n, "EUR", "shop", true);
    accounts.push(shop);
    const pick = (i: number) => accounts[i % accounts.length] as Account;
    const errors: unknown[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        for (let i = 0; i < 12; i++) {
          const payer = pick(worker + i);
          const payee = i % 3 === 0 ? shop : pick(worker + i + 1 + (i % 5));
          if (payer === payee) continue;
          try {
            const held = await hold(fx, payer, payee, BigInt(10 + i));
            if (held.status !== "HELD") continue;
            if (i % 4 === 0) {
              await fx.service.voidPayment(held.paymentId);
              continue;
            }
            await capture(held.paymentId, BigInt(5 + i));
            // The payee pays part back, while others pay it and hold on it.
            await fx.service.refundPayment({
              idempotencyKey: uniqueKey(),
              paymentId: held.paymentId,
              amountCents: BigInt(1 + (i % 5)),
              description: "",
            });
            await fx.service.authorizePayment({
              idempotencyKey: uniqueKey(),
              payerAccountId: payee.accountId,
              payeeAccountId: payer.accountId,
              amountCents: 3n,
              currency: "EUR",
              description: "",
            });
          } catch (error) {
            errors.push(error);
          }
        }
      }),
    );
    expect(errors).toEqual([]);
    expect(await brokenInvariants(fx.pool)).toEqual({});
  });
});
