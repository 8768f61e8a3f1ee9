/**
 * What one payment costs the database, beside one transaction of pgbench's
 * TPC-B-like script on the same server: round trips, statements, row locks,
 * WAL (records, bytes and full-page images, by record kind and by relation),
 * row versions, index entries, commits and WAL flushes, buffers; each
 * statement the payment runs, with its calls, time and WAL; and the CPU time
 * of the server and of the client per transaction. Counts and CPU time, not
 * rates: they hold on a busy machine, where bench:ledger's rates do not.
 *
 *   npm run bench:ledger-costs -- [--payments 2000] [--accounts 1000] [--scale 16] [--rounds 2]
 *                                 [--contended-seconds 5] [--contended-workers 8] [--pgbench 0]
 *                                 [--tree <checkout>]...
 *
 * Payments are bench:ledger's case (a), one at a time: 1 cent between two
 * random funded accounts. --tree measures another checkout of this
 * repository (its migrations, SQL functions, PgLedgerStore and
 * PaymentService, with its own node_modules) on the same server, for an A/B
 * of what changed; repeat it for several. Without it, this checkout is
 * measured. The counts are taken once per checkout; the CPU time and the
 * contended rate in --rounds rounds, the checkouts (and pgbench) interleaved.
 *
 * Contended: every payment to one ordinary payee (bench:ledger's (b0))
 * against pgbench at scale 1 (every transaction updates the one branch row),
 * --contended-workers clients each. Both are serialised on one row, so
 * 1 / rate is how long each transaction holds that row's lock, its commit
 * included. A rate: provisional on a busy machine. --contended-seconds 0
 * leaves it out.
 *
 * Starts its own local Postgres (durable, pg_stat_statements, autovacuum off
 * so the counts are the transactions' own); DATABASE_URL is not used: the
 * counters are the whole server's.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { providePostgres, withDatabase } from "../tools/local-services/postgres.ts";
import { CostCounters, type Costs, type CpuCosts } from "./costs/counters.ts";
import { type Measured, printCosts } from "./costs/report.ts";
import { exitedChildrenCpuMs } from "./server-cpu.ts";
import { argValue, machineLine, runFor, tryExec } from "./support.ts";

const payments = argValue("payments", 2000);
const accountCount = argValue("accounts", 1000);
const scale = argValue("scale", 16);
const rounds = argValue("rounds", 2);
const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const contendedSeconds = flag("contended-seconds", 5);
const contendedWorkers = argValue("contended-workers", 8);
const withPgbench = flag("pgbench", 1) !== 0;
const trees = process.argv.flatMap((arg, i) => (arg === "--tree" ? [process.argv[i + 1] ?? "."] : []));
if (trees.length === 0) trees.push(".");
if (process.env.DATABASE_URL) console.error("DATABASE_URL ignored: this benchmark needs a server of its own");
delete process.env.DATABASE_URL;

/** One thing measured: a checkout's ledger, or pgbench. */
interface Subject {
  label: string;
  /** The counted run (nested statements tracked): once. */
  counts(): Promise<Costs>;
  /** One run timed by CPU: per round. */
  cpu(): Promise<CpuCosts | undefined>;
  /** Transactions per second, all serialised on one row: per round. */
  contended(): Promise<number>;
  close(): Promise<void>;
}

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

const subjects: Subject[] = [];
try {
  const serverVersion = await adminQuery("SELECT current_setting('server_version') AS v");
  for (const tree of trees) subjects.push(await ledgerOf(tree, subjects.length));
  if (withPgbench) {
    const tpcb = await pgbenchSubject();
    if (tpcb) subjects.push(tpcb);
  }
  const results: Measured[] = [];
  for (const subject of subjects) {
    console.error(`${subject.label}: ${payments} transactions, one at a time, counted…`);
    results.push({ label: subject.label, costs: await subject.counts(), cpu: [], contended: [] });
  }
  for (let round = 1; round <= rounds; round++) {
    for (const [i, subject] of subjects.entries()) {
      console.error(`round ${round}: ${subject.label}: ${payments} transactions, one at a time, CPU time…`);
      const cpu = await subject.cpu();
      if (cpu) results[i]?.cpu.push(cpu);
    }
    if (contendedSeconds <= 0) continue;
    for (const [i, subject] of subjects.entries()) {
      console.error(`round ${round}: ${subject.label}: contended on one row, ${contendedWorkers} clients…`);
      results[i]?.contended.push(await subject.contended());
    }
  }

  console.log("");
  console.log(
    machineLine([
      `PostgreSQL ${serverVersion} (fsync on)`,
      `${payments} transactions per run, one at a time`,
      `${rounds} rounds`,
      `contended: ${contendedWorkers} clients, ${contendedSeconds} s`,
    ]),
  );
  printCosts(results);
} finally {
  for (const subject of subjects) await subject.close().catch(() => undefined);
  await server.stop();
}

async function adminQuery(sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: server.adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ v?: string }>(sql);
    return rows[0]?.v ?? "";
  } finally {
    await client.end();
  }
}

async function createDatabase(name: string): Promise<string> {
  await adminQuery(`CREATE DATABASE ${name}`);
  return withDatabase(server.adminUrl, name);
}

/** Sessions opened from now on in `database` track nested statements (true) or only the clients' (false). */
function trackNested(database: string, on: boolean): Promise<string> {
  return adminQuery(
    on
      ? `ALTER DATABASE ${database} SET pg_stat_statements.track = 'all'`
      : `ALTER DATABASE ${database} RESET pg_stat_statements.track`,
  );
}

/** One checkout's ledger, with that checkout's own modules: migrate, store, service and funding. */
async function ledgerOf(tree: string, index: number): Promise<Subject> {
  const root = resolve(tree);
  const load = <T>(path: string): Promise<T> => import(pathToFileURL(resolve(root, path)).href);
  const { migrate } = await load<typeof import("../lib/db/migrate.ts")>("lib/db/migrate.ts");
  const { createPool } = await load<typeof import("../lib/db/pool.ts")>("lib/db/pool.ts");
  const { databaseConfig } = await load<typeof import("../lib/config.ts")>("lib/config.ts");
  const { PgLedgerStore } = await load<typeof import("../lib/ledger/pg-ledger-store.ts")>(
    "lib/ledger/pg-ledger-store.ts",
  );
  const { PaymentService } =
    await load<typeof import("../lib/payments/service.ts")>("lib/payments/service.ts");
  const { openFundedAccounts } = await load<typeof import("./support.ts")>("bench/support.ts");
  const label = tree === "." ? "this checkout" : tree;

  const name = `costs_${index}_${Date.now().toString(36)}`;
  const url = await createDatabase(name);
  await migrate({ databaseUrl: url });
  const counters = await CostCounters.open(server.adminUrl, url);
  const connect = () => {
    const pool = createPool({
      ...databaseConfig({ DATABASE_URL: url }),
      poolMax: Math.max(4, contendedWorkers),
    });
    return {
      pool,
      service: new PaymentService(new PgLedgerStore(pool), { idempotencyKeyTtlSeconds: 86_400 }),
    };
  };
  let session = connect();
  console.error(`${label}: ${accountCount} funded accounts…`);
  const accounts = (await openFundedAccounts(session.service, accountCount, 4)).map((a) => a.accountId);
  const plainPayee = (
    await session.service.createAccount({ owner: "merchant", currency: "EUR", system: false })
  ).accountId;
  let key = 0;
  const pay = async (payer: string, payee: string) => {
    const result = await session.service.authorizePayment({
      idempotencyKey: `costs-${process.pid}-${key++}`,
      payerAccountId: payer,
      payeeAccountId: payee,
      amountCents: 1n,
      currency: "EUR",
      description: "",
    });
    if (result.status !== "AUTHORIZED") throw new Error(result.decline?.message ?? "declined");
  };
  const random = () => accounts[Math.floor(Math.random() * accounts.length)] as string;
  const oneAtATime = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const payer = random();
      let payee = random();
      while (payee === payer) payee = random();
      await pay(payer, payee);
    }
  };
  /** New sessions, so a change of what pg_stat_statements tracks applies to them. */
  const reconnect = async () => {
    await session.pool.end();
    session = connect();
    await oneAtATime(200); // warm-up: plans, caches
  };
  const ownCpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  return {
    label,
    async counts() {
      await trackNested(name, true);
      await reconnect();
      const costs = await counters.measure(payments, () => oneAtATime(payments));
      await trackNested(name, false);
      await reconnect();
      return costs;
    },
    async cpu() {
      await oneAtATime(100);
      return counters.cpu(payments, ownCpuMs, () => oneAtATime(payments));
    },
    async contended() {
      const r = await runFor(contendedWorkers, contendedSeconds * 1000, () => pay(random(), plainPayee));
      return r.perSecond;
    },
    async close() {
      await counters.close();
      await session.pool.end();
    },
  };
}

/** pgbench's TPC-B-like script: one client at --scale, and contended at scale 1 (one branch row). */
async function pgbenchSubject(): Promise<Subject | undefined> {
  if (tryExec("pgbench", ["--version"]) === undefined) {
    console.error("pgbench not found on PATH: install the PostgreSQL client tools to compare with TPC-B.");
    return undefined;
  }
  const name = `costs_pgbench_${Date.now().toString(36)}`;
  const url = await createDatabase(name);
  console.error(`pgbench: initialising scale ${scale}…`);
  if (tryExec("pgbench", ["-i", "-q", "-s", String(scale), url]) === undefined) return undefined;
  const oneRow = await createDatabase(`costs_pgbench1_${Date.now().toString(36)}`);
  if (contendedSeconds > 0 && tryExec("pgbench", ["-i", "-q", "-s", "1", oneRow]) === undefined)
    return undefined;
  const oneClient = async (count: number) => {
    const out = tryExec("pgbench", ["-n", "-M", "prepared", "-c", "1", "-t", String(count), url]);
    if (out === undefined) throw new Error("pgbench failed");
  };
  await oneClient(500); // warm-up
  const counters = await CostCounters.open(server.adminUrl, url);
  return {
    label: `pgbench TPC-B-like (scale ${scale})`,
    async counts() {
      await trackNested(name, true);
      const costs = await counters.measure(payments, () => oneClient(payments));
      await trackNested(name, false);
      return costs;
    },
    cpu: () => counters.cpu(payments, exitedChildrenCpuMs, () => oneClient(payments)),
    async contended() {
      const out = tryExec("pgbench", [
        ...["-n", "-M", "prepared", "-c", String(contendedWorkers), "-j", "2"],
        ...["-T", String(contendedSeconds), oneRow],
      ]);
      return Number(out?.match(/tps = ([0-9.]+)/)?.[1] ?? 0);
    },
    close: () => counters.close(),
  };
}
