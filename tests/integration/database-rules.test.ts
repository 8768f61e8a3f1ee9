import { runner } from "node-pg-migrate";
import pg from "pg";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultMigrationsDir, MIGRATIONS_TABLE, migrate } from "../../lib/db/migrate.ts";
import type { Account } from "../../lib/payments/model.ts";
import { testDatabase } from "../support/database.ts";
import { brokenInvariants, INVARIANT_QUERIES } from "../support/invariants.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";

// The database enforces the ledger's rules on its own: these statements bypass
// PaymentService entirely and must still be refused.
let fx: LedgerFixture;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  fx = await ledgerFixture();
  alice = await fx.openFundedAccount(100n);
  bob = await fx.openFundedAccount(0n);
});
afterAll(async () => {
  await fx?.close();
});

async function sqlState(sql: string, params: unknown[] = []): Promise<string | undefined> {
  try {
    await fx.pool.query(sql, params);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

function paymentInsert(overrides: Record<string, unknown> = {}): [string, unknown[]] {
  const row = {
    id: ulid(),
    idempotency_key: uniqueKey(),
    payer: alice.accountId,
    payee: bob.accountId,
    amount: 1,
    currency: "EUR",
    status: "AUTHORIZED",
    error_code: null,
    ...overrides,
  };
  return [
    `INSERT INTO payments (id, idempotency_key, payer_account_id, payee_account_id, amount, currency, status, error_code)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [row.id, row.idempotency_key, row.payer, row.payee, row.amount, row.currency, row.status, row.error_code],
  ];
}

describe("the database enforces", () => {
  it("amount > 0 and at most 2^53-1", async () => {
    expect(await sqlState(...paymentInsert({ amount: 0 }))).toBe("23514");
    expect(await sqlState(...paymentInsert({ amount: -1 }))).toBe("23514");
    expect(await sqlState(...paymentInsert({ amount: "9007199254740992" }))).toBe("23514");
  });

  it("the currency format and the ULID format", async () => {
    expect(await sqlState(...paymentInsert({ currency: "eur" }))).toBe("23514");
    expect(await sqlState(...paymentInsert({ id: "not-a-ulid" }))).toBe("23514");
  });

  it("a declined payment has a reason and an authorized one has none", async () => {
    expect(await sqlState(...paymentInsert({ status: "DECLINED" }))).toBe("23514");
    expect(await sqlState(...paymentInsert({ error_code: "INSUFFICIENT_FUNDS" }))).toBe("23514");
  });

  it("balance >= 0 unless the account allows negative", async () => {
    expect(
      await sqlState("UPDATE balances SET available = -1 WHERE account_id = $1", [alice.accountId]),
    ).toBe("23514");
    const system = await fx.systemAccount("EUR");
    expect(
      await sqlState("UPDATE balances SET available = available - 1 WHERE account_id = $1", [
        system.accountId,
      ]),
    ).toBe(undefined);
    await fx.pool.query("UPDATE balances SET available = available + 1 WHERE account_id = $1", [
      system.accountId,
    ]);
  });

  it("an idempotency key unique per owner, and always with an owner", async () => {
    const key = uniqueKey();
    const insert =
      "INSERT INTO idempotency_keys (owner, key, request_hash, payment_id, expires_at) VALUES ($1, $2, 'h', $3, now())";
    expect(await sqlState(insert, ["alice", key, ulid()])).toBe(undefined);
    expect(await sqlState(insert, ["alice", key, ulid()])).toBe("23505");
    expect(await sqlState(insert, ["bob", key, ulid()])).toBe(undefined);
    expect(await sqlState(insert, [null, uniqueKey(), ulid()])).toBe("23502");
  });

  it("foreign keys from entries to their account's balance (same currency) and payments", async () => {
    const entry = `INSERT INTO ledger_entries (id, payment_id, account_id, amount, currency, balance_after)
                   VALUES ($1, $2, $3, 1, 'EUR', 1)`;
    expect(await sqlState(entry, [ulid(), ulid(), alice.accountId])).toBe("23503");
    const result = await fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 1n,
      currency: "EUR",
      description: "",
    });
    expect(await sqlState(entry, [ulid(), result.paymentId, ulid()])).toBe("23503");
    // An entry's currency is its account's.
    const usdEntry = `INSERT INTO ledger_entries (id, payment_id, account_id, amount, currency, balance_after)
                      VALUES ($1, $2, $3, 1, 'USD', 1)`;
    expect(await sqlState(usdEntry, [ulid(), result.paymentId, alice.accountId])).toBe("23503");
    expect(await sqlState("INSERT INTO balances (account_id, currency) VALUES ($1, 'EUR')", [ulid()])).toBe(
      "23503",
    );
  });

  it("hot credits: only for a hot account, positive, of a real entry; a debit always has a balance after", async () => {
    const merchant = await fx.service.createAccount({
      owner: "shop",
      currency: "EUR",
      system: false,
      hot: true,
    });
    const paid = await fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: alice.accountId,
      payeeAccountId: merchant.accountId,
      amountCents: 5n,
      currency: "EUR",
      description: "",
    });
    expect(paid.status).toBe("AUTHORIZED");
    const { rows } = await fx.pool.query<{ id: string }>(
      "SELECT id FROM ledger_entries WHERE payment_id = $1 AND account_id = $2",
      [paid.paymentId, merchant.accountId],
    );
    const creditId = rows[0]?.id;
    const hotCredit = "INSERT INTO hot_credits (account_id, entry_id, amount) VALUES ($1, $2, $3)";
    // Already pending: one row per entry.
    expect(await sqlState(hotCredit, [merchant.accountId, creditId, 5])).toBe("23505");
    // Not a hot account (bob), not an entry, not positive.
    expect(await sqlState(hotCredit, [bob.accountId, creditId, 5])).toBe("23503");
    expect(await sqlState(hotCredit, [merchant.accountId, ulid(), 5])).toBe("23503");
    expect(await sqlState(hotCredit, [merchant.accountId, creditId, 0])).toBe("23514");
    // An account cannot stop being hot while credits are still unfolded.
    expect(
      await sqlState("UPDATE balances SET hot = false WHERE account_id = $1", [merchant.accountId]),
    ).toBe("23503");
    // The balance row (the checkpoint) keeps its floor: a hot account's real
    // balance is never below it, so the floor still bounds the balance.
    expect(
      await sqlState("UPDATE balances SET available = available - 1 WHERE account_id = $1", [
        merchant.accountId,
      ]),
    ).toBe("23514");
    // Only credits may go without a balance after.
    const debit = `INSERT INTO ledger_entries (id, payment_id, account_id, amount, currency, balance_after)
                   VALUES ($1, $2, $3, -1, 'EUR', NULL)`;
    expect(await sqlState(debit, [ulid(), paid.paymentId, merchant.accountId])).toBe("23514");
  });

  it("the invariant checks catch a corrupted ledger (so the concurrency tests can fail)", async () => {
    expect(await brokenInvariants(fx.pool)).toEqual({});
    await fx.pool.query("BEGIN");
    try {
      await fx.pool.query("UPDATE balances SET available = available + 1 WHERE account_id = $1", [
        bob.accountId,
      ]);
      const broken = await brokenInvariants(fx.pool);
      expect(Object.keys(broken).sort()).toEqual([
        "balanceEqualsSumOfEntries",
        "lastEntryBalanceAfterIsTheBalance",
      ]);
    } finally {
      await fx.pool.query("ROLLBACK");
    }
  });
});

describe("the invariant checks", () => {
  it("catch a hot account whose unfolded credit went missing", async () => {
    const merchant = await fx.openFundedAccount(7n, "EUR", "shop2", true);
    expect(await brokenInvariants(fx.pool)).toEqual({});
    const client = await fx.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("DELETE FROM hot_credits WHERE account_id = $1", [merchant.accountId]);
      const broken: string[] = [];
      for (const [name, sql] of Object.entries(INVARIANT_QUERIES)) {
        if ((await client.query(sql)).rows.length > 0) broken.push(name);
      }
      expect(broken).toEqual(["balanceEqualsSumOfEntries"]);
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  });

  it("catch a hot account's payout whose balance after counts credits it never received", async () => {
    const merchant = await fx.openFundedAccount(7n, "EUR", "shop3", true);
    const payout = await fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: merchant.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 2n,
      currency: "EUR",
      description: "",
    });
    expect(payout.status).toBe("AUTHORIZED");
    expect(await brokenInvariants(fx.pool)).toEqual({});
    const client = await fx.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("UPDATE ledger_entries SET balance_after = 6 WHERE payment_id = $1 AND amount < 0", [
        payout.paymentId,
      ]);
      const broken: string[] = [];
      for (const [name, sql] of Object.entries(INVARIANT_QUERIES)) {
        if ((await client.query(sql)).rows.length > 0) broken.push(name);
      }
      expect(broken).toEqual(["hotDebitBalanceAfterCountsCommittedCredits"]);
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  });
});

describe("migrations", () => {
  it("run from code, apply once, and are safe to run concurrently", async () => {
    const { migrate } = await import("../../lib/db/migrate.ts");
    // The fixture's database is fully migrated: nothing left to apply, even from two callers at once.
    const again = await Promise.all([
      migrate({ databaseUrl: fx.db.url }),
      migrate({ databaseUrl: fx.db.url }),
    ]);
    expect(again.map((r) => r.applied)).toEqual([[], []]);
    // The function files are (re)applied every time, idempotently.
    expect(again[0]?.functions).toEqual([
      "010_rfc3339.sql",
      "012_call_deadline.sql",
      "015_balance_moves.sql",
      "016_balance_moves_previous_release.sql",
      "019_claim_idempotency_key.sql",
      "020_authorize_payment.sql",
      "021_authorize_payment_previous_release.sql",
      "030_capture_payment.sql",
      "031_void_payment.sql",
      "032_refund_payment.sql",
      "033_expire_holds.sql",
    ]);
    const { rows } = await fx.pool.query<{ name: string }>(
      "SELECT name FROM schema_migrations ORDER BY run_on, id",
    );
    expect(rows.map((r) => r.name)).toContain("1732800000000_ledger");
  });
});

describe("owner-scoped idempotency keys (expand, then contract)", () => {
  it("keeps keys written before the migration valid, scoped to the payer account's owner", async () => {
    // Empty: this test migrates it to the previous release's schema first. Directly, as migrate runs.
    const empty = await testDatabase("keys", { migrate: false });
    const url = empty.directUrl;
    const db = new pg.Client({ connectionString: url });
    try {
      // The schema of the previous release: the first two migrations only.
      await runner({
        databaseUrl: url,
        dir: defaultMigrationsDir(),
        direction: "up",
        count: 2,
        migrationsTable: MIGRATIONS_TABLE,
        log: () => {},
      });
      await db.connect();
      const [account, payee, payment] = [ulid(), ulid(), ulid()];
      await db.query(
        "INSERT INTO accounts (id, owner, currency) VALUES ($1, 'bob', 'EUR'), ($2, 'carol', 'EUR')",
        [account, payee],
      );
      await db.query(
        "INSERT INTO balances (account_id, currency, available) VALUES ($1, 'EUR', 10), ($2, 'EUR', 0)",
        [account, payee],
      );
      await db.query(
        `INSERT INTO payments (id, idempotency_key, payer_account_id, payee_account_id, amount, currency, status)
         VALUES ($1, 'order-1', $2, $3, 1, 'EUR', 'AUTHORIZED')`,
        [payment, account, payee],
      );
      await db.query(
        `INSERT INTO idempotency_keys (key, request_hash, payment_id, expires_at)
         VALUES ('order-1', 'hash', $1, now() + interval '1 day')`,
        [payment],
      );

      await migrate({ databaseUrl: url });

      const keys = await db.query("SELECT owner, key, payment_id FROM idempotency_keys");
      expect(keys.rows).toEqual([{ owner: "bob", key: "order-1", payment_id: payment }]);
      const authorize = (owner: string, hash: string) =>
        db.query(
          `SELECT outcome, payment_id FROM authorize_payment(
             p_payment_id => $1, p_event_id => $2, p_debit_entry_id => $3, p_credit_entry_id => $4,
             p_owner => $8, p_idempotency_key => 'order-1', p_request_hash => $5, p_key_ttl => interval '1 day',
             p_payer => $6, p_payee => $7, p_amount => 1, p_currency => 'EUR', p_description => '')`,
          [ulid(), ulid(), ulid(), ulid(), hash, account, payee, owner],
        );
      // bob's old key still replays his payment; alice's same key is hers alone.
      expect((await authorize("bob", "hash")).rows).toEqual([{ outcome: "REPLAY", payment_id: payment }]);
      const alices = (await authorize("alice", "other")).rows[0];
      expect(alices).toMatchObject({ outcome: "NEW" });
      expect(alices?.payment_id).not.toBe(payment);
      // The previous release's signature still works, scoped to the payer account's owner.
      const legacy = await db.query(
        `SELECT outcome, payment_id FROM authorize_payment($1, $2, $3, $4, 'order-1', 'hash', $5, $6, 1, 'EUR', '',
           interval '1 day')`,
        [ulid(), ulid(), ulid(), ulid(), account, payee],
      );
      expect(legacy.rows).toEqual([{ outcome: "REPLAY", payment_id: payment }]);
    } finally {
      await db.end().catch(() => undefined);
      await empty.drop();
    }
  });
});
