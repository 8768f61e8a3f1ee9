import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Account, AuthorizationResult } from "../../lib/payments/model.ts";
import { brokenInvariants } from "../support/invariants.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";

let fx: LedgerFixture;

beforeAll(async () => {
  fx = await ledgerFixture({ poolMax: 32 });
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
});
