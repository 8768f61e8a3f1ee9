/**
 * Demo data for local runs: alice and bob, each with a funded EUR account.
 * Idempotent: a second run finds the same accounts and funds nothing again.
 */
import { paymentsConfig } from "../lib/config.ts";
import type { Pool } from "../lib/db/pool.ts";
import { PgLedgerStore } from "../lib/ledger/pg-ledger-store.ts";
import { fundAccount, TREASURY_OWNER } from "../lib/payments/funding.ts";
import type { Account } from "../lib/payments/model.ts";
import { PaymentService } from "../lib/payments/service.ts";

export const DEMO_CURRENCY = "EUR";
/** €1,000.00 each. */
export const DEMO_FUNDING_CENTS = 100_000n;
export const DEMO_OWNERS = ["alice", "bob"] as const;

export type DemoAccounts = Record<(typeof DEMO_OWNERS)[number], Account>;

export async function seedDemo(pool: Pool): Promise<DemoAccounts> {
  const service = new PaymentService(new PgLedgerStore(pool), paymentsConfig(process.env));
  const treasury = await findOrCreate(pool, service, TREASURY_OWNER, true);
  const accounts: Partial<DemoAccounts> = {};
  for (const owner of DEMO_OWNERS) {
    const account = await findOrCreate(pool, service, owner, false);
    if (!(await hasEntries(pool, account.accountId))) {
      // Keyed by the account, so a run that died after this call replays it instead of paying twice.
      await fundAccount(service, {
        treasury,
        account,
        amountCents: DEMO_FUNDING_CENTS,
        idempotencyKey: `demo-seed-funding-${account.accountId}`,
        description: "demo funding",
      });
    }
    accounts[owner] = account;
  }
  return accounts as DemoAccounts;
}

/** The owner's oldest account in the demo currency (ULIDs sort by creation time). */
async function findOrCreate(
  pool: Pool,
  service: PaymentService,
  owner: string,
  system: boolean,
): Promise<Account> {
  const { rows } = await pool.query<{ id: string }>(
    "SELECT id FROM accounts WHERE owner = $1 AND currency = $2 AND is_system = $3 ORDER BY id LIMIT 1",
    [owner, DEMO_CURRENCY, system],
  );
  const existing = rows[0];
  if (existing) return service.getAccount(existing.id);
  return service.createAccount({ owner, currency: DEMO_CURRENCY, system });
}

async function hasEntries(pool: Pool, accountId: string): Promise<boolean> {
  const { rowCount } = await pool.query("SELECT 1 FROM ledger_entries WHERE account_id = $1 LIMIT 1", [
    accountId,
  ]);
  return (rowCount ?? 0) > 0;
}
