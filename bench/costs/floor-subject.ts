/**
 * The ledger's floor (bench/ledger-floor.ts) as a subject of
 * bench:ledger-costs: case (a)'s row writes as plain SQL under pgbench,
 * -M prepared, on this checkout's schema, counted as a payment is.
 */
import { databaseConfig } from "../../lib/config.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { createPool } from "../../lib/db/pool.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { type FloorRunOptions, openFloorAccounts, runLedgerFloor } from "../ledger-floor.ts";
import { exitedChildrenCpuMs } from "../server-cpu.ts";
import { tryExec } from "../support.ts";
import { CostCounters } from "./counters.ts";
import type { Subject } from "./subject.ts";

export async function floorSubject(options: {
  adminUrl: string;
  /** An empty database of its own, migrated here. */
  url: string;
  accounts: number;
  /** Transactions per counted or timed run, one client. */
  transactions: number;
  trackNested(on: boolean): Promise<unknown>;
  contended: { clients: number; seconds: number };
}): Promise<Subject | undefined> {
  if (tryExec("pgbench", ["--version"]) === undefined) return undefined;
  const { url } = options;
  await migrate({ databaseUrl: url });
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: url }), poolMax: 4 });
  let accounts: Awaited<ReturnType<typeof openFloorAccounts>>;
  try {
    const service = new PaymentService(new PgLedgerStore(pool), { idempotencyKeyTtlSeconds: 86_400 });
    console.error(`ledger floor: ${options.accounts} funded accounts…`);
    accounts = await openFloorAccounts(pool, service, options.accounts, 4);
  } finally {
    await pool.end();
  }
  const run = (length: FloorRunOptions["length"], clients = 1, toOne = false) => {
    const result = runLedgerFloor(url, accounts, { mode: "prepared", clients, length, toOne });
    if (!result) throw new Error("pgbench is gone");
    return result;
  };
  run({ transactions: 200 }); // warm-up: caches
  const counters = await CostCounters.open(options.adminUrl, url);
  return {
    label: "ledger floor, pgbench -M prepared",
    async counts() {
      await options.trackNested(true);
      const { transactions } = options;
      const costs = await counters.measure(transactions, async () => {
        run({ transactions });
      });
      await options.trackNested(false);
      return costs;
    },
    cpu: () =>
      counters.cpu(options.transactions, exitedChildrenCpuMs, async () => {
        run({ transactions: options.transactions });
      }),
    async contended() {
      const { clients, seconds } = options.contended;
      return run({ seconds }, clients, true).tps;
    },
    close: () => counters.close(),
  };
}
