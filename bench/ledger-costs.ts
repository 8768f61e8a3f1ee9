import {
  freshDatabase,
  onServer,
  providePostgres,
  type TestDatabase,
} from "../tools/local-services/postgres.ts";
import { CostCounters } from "./costs/counters.ts";
import { floorSubject } from "./costs/floor-subject.ts";
import { type Measured, printCosts } from "./costs/report.ts";
import type { Subject } from "./costs/subject.ts";
import { treeAt, treesArg } from "./costs/tree.ts";
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
const withFloor = flag("floor", 1) !== 0;
const trees = treesArg();
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
/** Databases made for this run, dropped when it ends (they outlive it on a DATABASE_URL server otherwise). */
const databases: TestDatabase[] = [];

const subjects: Subject[] = [];
try {
  const serverVersion = await onServer(server.adminUrl, "SELECT current_setting('server_version') AS v");
  for (const tree of trees) subjects.push(await ledgerOf(tree, subjects.length));
  if (withPgbench) {
    const tpcb = await pgbenchSubject();
    if (tpcb) subjects.push(tpcb);
  }
  if (withPgbench && withFloor) {
    const { directUrl, name } = await createDatabase("costs_floor");
    const floor = await floorSubject({
      adminUrl: server.adminUrl,
      url: directUrl,
      accounts: accountCount,
      transactions: payments,
      trackNested: (on) => trackNested(name, on),
      contended: { clients: contendedWorkers, seconds: contendedSeconds },
    });
    if (floor) subjects.push(floor);
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
  for (const db of databases) await db.drop().catch(() => undefined);
  await server.stop();
}

/** A database of its own on the bench's server, migrated by its caller, dropped when the run ends. */
async function createDatabase(prefix: string): Promise<TestDatabase> {
  const db = await freshDatabase(server.adminUrl, prefix, { migrate: false });
  databases.push(db);
  return db;
}

/** Sessions opened from now on in `database` track nested statements (true) or only the clients' (false). */
function trackNested(database: string, on: boolean): Promise<string> {
  return onServer(
    server.adminUrl,
    on
      ? `ALTER DATABASE ${database} SET pg_stat_statements.track = 'all'`
      : `ALTER DATABASE ${database} RESET pg_stat_statements.track`,
  );
}

/** One checkout's ledger, with that checkout's own modules: migrate, store, service and funding. */
async function ledgerOf(tree: string, index: number): Promise<Subject> {
  const { load, label } = treeAt(tree);
  const { migrate } = await load<typeof import("../lib/db/migrate.ts")>("lib/db/migrate.ts");
  const { createPool } = await load<typeof import("../lib/db/pool.ts")>("lib/db/pool.ts");
  const { databaseConfig } = await load<typeof import("../lib/config.ts")>("lib/config.ts");
  const { PgLedgerStore } = await load<typeof import("../lib/ledger/pg-ledger-store.ts")>(
    "lib/ledger/pg-ledger-store.ts",
  );
  const { PaymentService } =
    await load<typeof import("../lib/payments/service.ts")>("lib/payments/service.ts");
  const { openFundedAccounts } = await load<typeof import("./support.ts")>("bench/support.ts");

  const { name, directUrl: url } = await createDatabase(`costs_${index}`);
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
  const { name, directUrl: url } = await createDatabase("costs_pgbench");
  console.error(`pgbench: initialising scale ${scale}…`);
  if (tryExec("pgbench", ["-i", "-q", "-s", String(scale), url]) === undefined) return undefined;
  const oneRow = (await createDatabase("costs_pgbench1")).directUrl;
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
