import { databaseConfig } from "../../lib/config.ts";
import { createPool, type Pool } from "../../lib/db/pool.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import { fundAccount, openTreasury } from "../../lib/payments/funding.ts";
import type { Account } from "../../lib/payments/model.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { testDatabase } from "./database.ts";

export interface LedgerFixture {
  db: TestDatabase;
  pool: Pool;
  service: PaymentService;
  store: PgLedgerStore;
  /** A customer account with `cents` moved in from the currency's system account. */
  openFundedAccount(cents: bigint, currency?: string, owner?: string, hot?: boolean): Promise<Account>;
  systemAccount(currency: string): Promise<Account>;
  close(): Promise<void>;
}

let keySeq = 0;
export function uniqueKey(label = "k"): string {
  keySeq += 1;
  return `${label}-${process.pid}-${Date.now()}-${keySeq}`;
}

/**
 * A fresh migrated database with a PaymentService on it; one per test file.
 * Its pool reaches Postgres through the run's transaction-mode pooler, as the
 * functions do (db.directUrl is the database without it).
 */
export async function ledgerFixture(
  options: { poolMax?: number; keyTtlSeconds?: number; rollUpEvery?: number } = {},
): Promise<LedgerFixture> {
  const db = await testDatabase();
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: options.poolMax ?? 10 });
  const store = new PgLedgerStore(pool, { rollUpEvery: options.rollUpEvery ?? 256 });
  const service = new PaymentService(store, {
    idempotencyKeyTtlSeconds: options.keyTtlSeconds ?? 86_400,
  });
  const systems = new Map<string, Account>();

  const systemAccount = async (currency: string): Promise<Account> => {
    let account = systems.get(currency);
    if (!account) {
      account = await openTreasury(service, currency);
      systems.set(currency, account);
    }
    return account;
  };

  return {
    db,
    pool,
    service,
    store,
    systemAccount,
    async openFundedAccount(cents, currency = "EUR", owner = "alice", hot = false) {
      const account = await service.createAccount({ owner, currency, system: false, hot });
      if (cents > 0n) {
        await fundAccount(service, { treasury: await systemAccount(currency), account, amountCents: cents });
      }
      return account;
    },
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}

/** Row counts of every table a payment writes, to prove a refused request wrote nothing. */
export interface TableCounts {
  payments: number;
  ledger_entries: number;
  idempotency_keys: number;
  outbox: number;
  accounts: number;
  balance_sum: number;
  holds: number;
  held_sum: number;
  refunds: number;
}

export async function tableCounts(pool: Pool): Promise<TableCounts> {
  const { rows } = await pool.query<Record<string, string>>(`
    SELECT (SELECT count(*) FROM payments) AS payments,
           (SELECT count(*) FROM ledger_entries) AS ledger_entries,
           (SELECT count(*) FROM idempotency_keys) AS idempotency_keys,
           (SELECT count(*) FROM outbox) AS outbox,
           (SELECT count(*) FROM accounts) AS accounts,
           (SELECT coalesce(sum(available), 0) FROM balances) AS balance_sum,
           (SELECT count(*) FROM holds) AS holds,
           (SELECT coalesce(sum(pending), 0) FROM balances) AS held_sum,
           (SELECT count(*) FROM refunds) AS refunds`);
  const row = rows[0] ?? {};
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as TableCounts;
}
