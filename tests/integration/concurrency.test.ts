import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Account, AuthorizationResult } from "../../lib/payments/model.ts";
import { brokenInvariants } from "../support/invariants.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";

let fx: LedgerFixture;

beforeAll(async () => {
  // Roll-ups every 40 payments, so folds run while credits are in flight.
  fx = await ledgerFixture({ poolMax: 32, rollUpEvery: 40 });
});
afterAll(async () => {
  await fx?.close();
});

/** Runs `count` tasks on `workers` concurrent loops; every task's outcome is kept. */
async function runConcurrently<T>(
  count: number,
  workers: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = next++; i < count; i = next++) results[i] = await task(i);
    }),
  );
  return results;
}

// A small deterministic PRNG so a failing run can be replayed from its seed.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("concurrency", () => {
  it("2,000 random payments among 50 accounts from 32 workers keep every invariant", async () => {
    const accounts: Account[] = [];
    for (let i = 0; i < 50; i++)
      accounts.push(await fx.openFundedAccount(BigInt(1_000 + i * 37), "EUR", `owner${i}`));
    const seed = Date.now();
    const random = prng(seed);
    const plans = Array.from({ length: 2_000 }, () => {
      const payer = accounts[Math.floor(random() * accounts.length)] as Account;
      // A few payments to the payer itself exercise the SAME_ACCOUNT decline under load.
      const payee = random() < 0.02 ? payer : (accounts[Math.floor(random() * accounts.length)] as Account);
      return { payer, payee, amount: BigInt(1 + Math.floor(random() * 400)) };
    });

    const results = await runConcurrently(plans.length, 32, (i) => {
      const plan = plans[i] as (typeof plans)[number];
      return fx.service.authorizePayment({
        idempotencyKey: uniqueKey(`mix${seed}`),
        payerAccountId: plan.payer.accountId,
        payeeAccountId: plan.payee.accountId,
        amountCents: plan.amount,
        currency: "EUR",
        description: "",
      });
    });

    const statuses = new Set(results.map((r) => r.status));
    expect(statuses.has("AUTHORIZED"), `seed ${seed}`).toBe(true);
    // Balances are small next to 2,000 payments, so some must run out of funds.
    expect(
      results.some((r) => r.decline?.code === "INSUFFICIENT_FUNDS"),
      `seed ${seed}`,
    ).toBe(true);
    expect(await brokenInvariants(fx.pool), `seed ${seed}`).toEqual({});
    const { rows } = await fx.pool.query<{ n: bigint }>(
      "SELECT count(*) AS n FROM payments WHERE idempotency_key LIKE $1",
      [`mix${seed}-%`],
    );
    expect(rows[0]?.n).toBe(2_000n);
  });

  it("50 concurrent requests with one idempotency key make exactly one payment, and all answers agree", async () => {
    const payer = await fx.openFundedAccount(1_000n);
    const payee = await fx.openFundedAccount(0n);
    const key = uniqueKey("same");
    const results: AuthorizationResult[] = await Promise.all(
      Array.from({ length: 50 }, () =>
        fx.service.authorizePayment({
          idempotencyKey: key,
          payerAccountId: payer.accountId,
          payeeAccountId: payee.accountId,
          amountCents: 10n,
          currency: "EUR",
          description: "once",
        }),
      ),
    );
    const ids = new Set(results.map((r) => r.paymentId));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.status === "AUTHORIZED")).toHaveLength(1);
    expect(results.filter((r) => r.status === "DUPLICATE")).toHaveLength(49);
    expect(new Set(results.map((r) => r.processedAt)).size).toBe(1);
    const { rows } = await fx.pool.query<{ n: bigint }>(
      "SELECT count(*) AS n FROM payments WHERE idempotency_key = $1",
      [key],
    );
    expect(rows[0]?.n).toBe(1n);
    expect((await fx.service.getAccountBalance(payer.accountId)).availableCents).toBe(990n);
  });

  it("500 payments A->B and 500 B->A at once never deadlock and leave exact balances", async () => {
    const a = await fx.openFundedAccount(100_000n);
    const b = await fx.openFundedAccount(100_000n);
    const results = await runConcurrently(1_000, 32, (i) => {
      const forward = i % 2 === 0;
      return fx.service.authorizePayment({
        idempotencyKey: uniqueKey("ab"),
        payerAccountId: forward ? a.accountId : b.accountId,
        payeeAccountId: forward ? b.accountId : a.accountId,
        amountCents: forward ? 3n : 5n,
        currency: "EUR",
        description: "",
      });
    });
    // Any deadlock would have surfaced as a rejected promise above; every call was authorized.
    expect(results.every((r) => r.status === "AUTHORIZED")).toBe(true);
    expect((await fx.service.getAccountBalance(a.accountId)).availableCents).toBe(
      100_000n - 500n * 3n + 500n * 5n,
    );
    expect((await fx.service.getAccountBalance(b.accountId)).availableCents).toBe(
      100_000n + 500n * 3n - 500n * 5n,
    );
    const { rows } = await fx.pool.query<{ deadlocks: bigint }>(
      "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    );
    expect(rows[0]?.deadlocks).toBe(0n);
    expect(await brokenInvariants(fx.pool)).toEqual({});
  });

  it("1,500 payments from 100 payers to one hot payee keep every invariant, and every balance read is exact", async () => {
    const payers: Account[] = [];
    for (let i = 0; i < 100; i++) payers.push(await fx.openFundedAccount(10_000n, "EUR", `hotpayer${i}`));
    const merchant = await fx.openFundedAccount(0n, "EUR", "merchant", true);
    expect(merchant.hot).toBe(true);
    const seed = Date.now();
    const random = prng(seed);
    const amounts = Array.from({ length: 1_500 }, () => BigInt(1 + Math.floor(random() * 50)));
    // A balance read must include every payment acknowledged before it
    // started, and nothing that had not started when it returned.
    let acknowledged = 0n;
    let started = 0n;
    const misreads: string[] = [];

    const results = await runConcurrently(amounts.length, 32, async (i) => {
      const amount = amounts[i] as bigint;
      started += amount;
      const result = await fx.service.authorizePayment({
        idempotencyKey: uniqueKey(`hot${seed}`),
        payerAccountId: (payers[i % payers.length] as Account).accountId,
        payeeAccountId: merchant.accountId,
        amountCents: amount,
        currency: "EUR",
        description: "",
      });
      acknowledged += amount;
      if (i % 10 === 0) {
        const floor = acknowledged;
        const read = (await fx.service.getAccountBalance(merchant.accountId)).availableCents;
        const ceiling = started;
        if (read < floor || read > ceiling) misreads.push(`read ${read} outside [${floor}, ${ceiling}]`);
      }
      return result;
    });

    expect(results.every((r) => r.status === "AUTHORIZED")).toBe(true);
    expect(misreads).toEqual([]);
    const total = amounts.reduce((a, b) => a + b, 0n);
    expect((await fx.service.getAccountBalance(merchant.accountId)).availableCents).toBe(total);
    // Every payer's own read reflects its own payments exactly.
    const perPayer = new Map<string, bigint>();
    amounts.forEach((amount, i) => {
      const id = (payers[i % payers.length] as Account).accountId;
      perPayer.set(id, (perPayer.get(id) ?? 0n) + amount);
    });
    for (const payer of payers.slice(0, 10)) {
      expect((await fx.service.getAccountBalance(payer.accountId)).availableCents).toBe(
        10_000n - (perPayer.get(payer.accountId) ?? 0n),
      );
    }
    // Credits to the hot account carry no balance after; the roll-ups folded most of them.
    const { rows } = await fx.pool.query<{ credits: bigint; without: bigint; pending: bigint; row: bigint }>(
      `SELECT count(*) AS credits, count(*) FILTER (WHERE balance_after IS NULL) AS without,
              (SELECT count(*) FROM hot_credits WHERE account_id = $1) AS pending,
              (SELECT available FROM balances WHERE account_id = $1) AS row
       FROM ledger_entries WHERE account_id = $1`,
      [merchant.accountId],
    );
    expect(rows[0]?.credits).toBe(1_500n);
    expect(rows[0]?.without).toBe(1_500n);
    expect(rows[0]?.row).toBeGreaterThan(0n);
    expect(await fx.store.rollUpHotCredits()).toBeGreaterThanOrEqual(0);
    expect(await brokenInvariants(fx.pool), `seed ${seed}`).toEqual({});
    const after = await fx.pool.query<{ pending: bigint; row: bigint }>(
      `SELECT (SELECT count(*) FROM hot_credits WHERE account_id = $1) AS pending,
              (SELECT available FROM balances WHERE account_id = $1) AS row`,
      [merchant.accountId],
    );
    expect(after.rows[0]).toEqual({ pending: 0n, row: total });
  });

  it("a hot account paying out while 50 payers credit it never overdraws and keeps every invariant", async () => {
    const payers: Account[] = [];
    for (let i = 0; i < 50; i++) payers.push(await fx.openFundedAccount(5_000n, "EUR", `mixpayer${i}`));
    const suppliers: Account[] = [];
    for (let i = 0; i < 5; i++) suppliers.push(await fx.openFundedAccount(0n, "EUR", `supplier${i}`));
    // A little money to start, and payouts about as large as the credits, so
    // payouts often find the account short.
    const merchant = await fx.openFundedAccount(200n, "EUR", "merchant", true);
    const seed = Date.now();
    const random = prng(seed);
    const plans = Array.from({ length: 1_500 }, () => {
      const payout = random() < 0.3;
      const other = payout
        ? (suppliers[Math.floor(random() * suppliers.length)] as Account)
        : (payers[Math.floor(random() * payers.length)] as Account);
      return { payout, other, amount: BigInt(1 + Math.floor(random() * (payout ? 120 : 50))) };
    });
    // Whatever the interleaving, some payouts are larger than all the money
    // the account will ever have, so the funds check must refuse them.
    for (let i = 7; i < plans.length; i += 100) {
      plans[i] = { payout: true, other: suppliers[0] as Account, amount: 1_000_000n };
    }

    const results = await runConcurrently(plans.length, 32, (i) => {
      const plan = plans[i] as (typeof plans)[number];
      return fx.service.authorizePayment({
        idempotencyKey: uniqueKey(`hotmix${seed}`),
        payerAccountId: plan.payout ? merchant.accountId : plan.other.accountId,
        payeeAccountId: plan.payout ? plan.other.accountId : merchant.accountId,
        amountCents: plan.amount,
        currency: "EUR",
        description: "",
      });
    });

    const payouts = results.filter((_, i) => plans[i]?.payout);
    expect(
      payouts.some((r) => r.status === "AUTHORIZED"),
      `seed ${seed}`,
    ).toBe(true);
    expect(
      payouts.some((r) => r.decline?.code === "INSUFFICIENT_FUNDS"),
      `seed ${seed}`,
    ).toBe(true);
    expect(results.filter((_, i) => !plans[i]?.payout).every((r) => r.status === "AUTHORIZED")).toBe(true);
    expect(await brokenInvariants(fx.pool), `seed ${seed}`).toEqual({});

    // The balance is exactly what the authorized payments say.
    let expected = 200n;
    results.forEach((r, i) => {
      const plan = plans[i] as (typeof plans)[number];
      if (r.status === "AUTHORIZED") expected += plan.payout ? -plan.amount : plan.amount;
    });
    expect((await fx.service.getAccountBalance(merchant.accountId)).availableCents).toBe(expected);
    // Every payout carries the exact balance it left, never below zero.
    const { rows } = await fx.pool.query<{ n: bigint; min: bigint | null }>(
      "SELECT count(*) AS n, min(balance_after) AS min FROM ledger_entries WHERE account_id = $1 AND amount < 0",
      [merchant.accountId],
    );
    expect(rows[0]?.n).toBe(BigInt(payouts.filter((r) => r.status === "AUTHORIZED").length));
    expect(rows[0]?.min ?? 0n).toBeGreaterThanOrEqual(0n);
    const { rows: dl } = await fx.pool.query<{ deadlocks: bigint }>(
      "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    );
    expect(dl[0]?.deadlocks).toBe(0n);
  });
});
