/**
 * What one payment costs the database, beside one transaction of pgbench's
 * TPC-B-like script on the same server: round trips, statements, row locks,
 * WAL (records, bytes and full-page images, by record kind and by relation),
 * row versions, index entries, commits and WAL flushes, buffers; and each
 * statement the payment runs, with its calls, time and WAL. Counts, not
 * rates: they hold on a busy machine, where bench:ledger's rates do not.
 *
 *   npm run bench:ledger-costs -- [--payments 2000] [--accounts 1000] [--scale 16] [--tree <checkout>]...
 *
 * Payments are bench:ledger's case (a), one at a time: 1 cent between two
 * random funded accounts. --tree measures another checkout of this repository
 * (its migrations, SQL functions and PgLedgerStore, with its own
 * node_modules) on the same server, for an A/B of what changed; repeat it to
 * measure several. Without it, this checkout is measured.
 *
 * Also, unless --contended-seconds is 0: every payment to one ordinary payee
 * (bench:ledger's (b0)) against pgbench at scale 1 (every transaction updates
 * the one branch row), --contended-workers clients each. Both are serialised
 * on one row, so 1 / rate is how long each holds that row's lock, its commit
 * included. Those are rates: provisional on a busy machine.
 *
 * Starts its own local Postgres (durable, pg_stat_statements with
 * track = all, autovacuum off so the counts are the transactions' own).
 * DATABASE_URL is not used: the counters are the whole server's.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { providePostgres, withDatabase } from "../tools/local-services/postgres.ts";
import { type Costs, CostCounters, type CpuCosts } from "./costs/counters.ts";
import { printCosts } from "./costs/report.ts";
import { exitedChildrenCpuMs } from "./server-cpu.ts";
import { argValue, machineLine, runFor, tryExec } from "./support.ts";

const payments = argValue("payments", 2000);
const accountCount = argValue("accounts", 1000);
const scale = argValue("scale", 16);
const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const contendedSeconds = flag("contended-seconds", 5);
const withPgbench = flag("pgbench", 1) !== 0;
const contendedWorkers = argValue("contended-workers", 8);
const trees = process.argv.flatMap((arg, i) => (arg === "--tree" ? [process.argv[i + 1] ?? "."] : []));
if (trees.length === 0) trees.push(".");
if (process.env.DATABASE_URL) console.error("DATABASE_URL ignored: this benchmark needs a server of its own");
delete process.env.DATABASE_URL;

const server = await providePostgres({
  durable: true,
  log: (line) => console.error(line),
  settings: {
    shared_preload_libraries: "pg_stat_statements",
    // "all" only while counting (per database): tracking nested statements costs CPU of its own.
    "pg_stat_statements.track": "top",
    "pg_stat_statements.max": "10000",
    track_wal_io_timing: "on",
    autovacuum: "off",
  },
});

interface Measured {
  label: string;
  costs: Costs;
  cpu: CpuCosts | undefined;
  /** Serialised on one row: transactions per second (0 when not run). */
  contendedRate: number;
}
const results: Measured[] = [];

try {
  const { serverVersion } = await serverInfo(server.adminUrl);
  for (const tree of trees) {
    results.push(await measureLedger(tree));
  }
  const tpcb = withPgbench ? await measurePgbench() : undefined;
  if (tpcb) results.push(tpcb);

  console.log("");
  console.log(
    machineLine([
      `PostgreSQL ${serverVersion} (fsync on)`,
      `${payments} transactions each, one at a time`,
      `contended: ${contendedWorkers} clients, ${contendedSeconds} s`,
    ]),
  );
  printCosts(results);
} finally {
  await server.stop();
}

async function serverInfo(url: string): Promise<{ serverVersion: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return { serverVersion: rows[0]?.v ?? "?" };
  } finally {
    await client.end();
  }
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: server.adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function createDatabase(name: string): Promise<string> {
  await admin(`CREATE DATABASE ${name}`);
  return withDatabase(server.adminUrl, name);
}

/** Sessions opened from now on in `database` track nested statements (true) or only the clients' (false). */
function trackNested(database: string, on: boolean): Promise<void> {
  return admin(
    on
      ? `ALTER DATABASE ${database} SET pg_stat_statements.track = 'all'`
      : `ALTER DATABASE ${database} RESET pg_stat_statements.track`,
  );
}

/** One checkout's ledger, with that checkout's own modules: migrate, store, service and funding. */
async function measureLedger(tree: string): Promise<Measured> {
  const root = resolve(tree);
  const load = <T>(path: string): Promise<T> => import(pathToFileURL(resolve(root, path)).href);
  const { migrate } = await load<typeof import("../lib/db/migrate.ts")>("lib/db/migrate.ts");
  const { createPool } = await load<typeof import("../lib/db/pool.ts")>("lib/db/pool.ts");
  const { databaseConfig } = await load<typeof import("../lib/config.ts")>("lib/config.ts");
  const { PgLedgerStore } = await load<typeof import("../lib/ledger/pg-ledger-store.ts")>(
    "lib/ledger/pg-ledger-store.ts",
  );
  const { PaymentService } = await load<typeof import("../lib/payments/service.ts")>("lib/payments/service.ts");
  const { openFundedAccounts } = await load<typeof import("./support.ts")>("bench/support.ts");
  const label = tree === "." ? "this checkout" : tree;

  const name = `costs_${results.length}_${Date.now().toString(36)}`;
  const url = await createDatabase(name);
  await migrate({ databaseUrl: url });
  await trackNested(name, true);
  const counters = await CostCounters.open(server.adminUrl, url);
  let pool = createPool({ ...databaseConfig({ DATABASE_URL: url }), poolMax: Math.max(4, contendedWorkers) });
  try {
    let service = new PaymentService(new PgLedgerStore(pool), { idempotencyKeyTtlSeconds: 86_400 });
    console.error(`${label}: ${accountCount} funded accounts…`);
    const accounts = await openFundedAccounts(service, accountCount, 4);
    const plainPayee = await service.createAccount({ owner: "merchant", currency: "EUR", system: false });
    let key = 0;
    const pay = async (payerIndex: number, payeeAccountId: string) => {
      const result = await service.authorizePayment({
        idempotencyKey: `costs-${process.pid}-${key++}`,
        payerAccountId: (accounts[payerIndex] as { accountId: string }).accountId,
        payeeAccountId,
        amountCents: 1n,
        currency: "EUR",
        description: "",
      });
      if (result.status !== "AUTHORIZED") throw new Error(result.decline?.message ?? "declined");
    };
    const random = () => Math.floor(Math.random() * accounts.length);
    const spread = async () => {
      const payer = random();
      let payee = random();
      while (payee === payer) payee = random();
      await pay(payer, (accounts[payee] as { accountId: string }).accountId);
    };
    const oneAtATime = async (count: number) => {
      for (let i = 0; i < count; i++) await spread();
    };
    await oneAtATime(500); // warm-up: plans, caches
    console.error(`${label}: ${payments} payments, one at a time, counted…`);
    const costs = await counters.measure(payments, () => oneAtATime(payments));

    // CPU without nested statement tracking: new sessions.
    await pool.end();
    await trackNested(name, false);
    pool = createPool({ ...databaseConfig({ DATABASE_URL: url }), poolMax: Math.max(4, contendedWorkers) });
    service = new PaymentService(new PgLedgerStore(pool), { idempotencyKeyTtlSeconds: 86_400 });
    await oneAtATime(200);
    console.error(`${label}: ${payments} payments, one at a time, CPU time…`);
    const ownCpuMs = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    };
    const cpu = await counters.cpu(payments, ownCpuMs, () => oneAtATime(payments));

    let contendedRate = 0;
    if (contendedSeconds > 0) {
      console.error(`${label}: every payment to one payee, ${contendedWorkers} workers, ${contendedSeconds} s…`);
      const r = await runFor(contendedWorkers, contendedSeconds * 1000, () =>
        pay(random(), plainPayee.accountId),
      );
      contendedRate = r.perSecond;
    }
    return { label, costs, cpu, contendedRate };
  } finally {
    await counters.close();
    await pool.end();
  }
}

/** pgbench's TPC-B-like script, one client, then at scale 1 (one branch row) contended. */
async function measurePgbench(): Promise<Measured | undefined> {
  if (tryExec("pgbench", ["--version"]) === undefined) {
    console.error("pgbench not found on PATH: install the PostgreSQL client tools to compare with TPC-B.");
    return undefined;
  }
  const name = `costs_pgbench_${Date.now().toString(36)}`;
  const url = await createDatabase(name);
  console.error(`pgbench: initialising scale ${scale}…`);
  if (tryExec("pgbench", ["-i", "-q", "-s", String(scale), url]) === undefined) return undefined;
  const oneClient = async (count: number) => {
    const out = tryExec("pgbench", ["-n", "-M", "prepared", "-c", "1", "-t", String(count), url]);
    if (out === undefined) throw new Error("pgbench failed");
  };
  await trackNested(name, true);
  await oneClient(500); // warm-up
  const counters = await CostCounters.open(server.adminUrl, url);
  try {
    console.error(`pgbench: ${payments} transactions, one client, counted…`);
    const costs = await counters.measure(payments, () => oneClient(payments));
    await trackNested(name, false);
    console.error(`pgbench: ${payments} transactions, one client, CPU time…`);
    const cpu = await counters.cpu(payments, exitedChildrenCpuMs, () => oneClient(payments));
    let contendedRate = 0;
    if (contendedSeconds > 0) {
      const one = await createDatabase(`costs_pgbench1_${Date.now().toString(36)}`);
      tryExec("pgbench", ["-i", "-q", "-s", "1", one]);
      console.error(`pgbench: scale 1, ${contendedWorkers} clients, ${contendedSeconds} s…`);
      const out = tryExec("pgbench", [
        "-n",
        "-M",
        "prepared",
        "-c",
        String(contendedWorkers),
        "-j",
        "2",
        "-T",
        String(contendedSeconds),
        one,
      ]);
      contendedRate = Number(out?.match(/tps = ([0-9.]+)/)?.[1] ?? 0);
    }
    return { label: `pgbench TPC-B-like (scale ${scale})`, costs, cpu, contendedRate };
  } finally {
    await counters.close();
  }
}
