/**
 * Where case (a)'s time goes under bench:ledger's load, beside pgbench's
 * TPC-B-like script under the same load: --workers clients for --seconds
 * each, and for each the CPU time per transaction of the client and of the
 * server (backends, WAL writer, background processes), how busy the
 * machine's cores were, WAL per transaction with its full-page images
 * (pg_stat_wal), and what the client backends were doing (pg_stat_activity
 * sampled every 10 ms: a wait event, or their state).
 *
 *   npm run bench:ledger-load -- [--workers 16] [--seconds 15] [--accounts 1000] [--rounds 2]
 *                                [--tree <checkout>]... [--pools 16,4]
 *
 * Case (a) is bench:ledger's: one AuthorizePayment through PaymentService
 * and PgLedgerStore per payment, 1 cent between two random funded accounts,
 * a pool of --workers connections, this process the client (one event loop).
 * pgbench runs as bench:ledger runs it (scale = clients, -M prepared, -j 2).
 * --tree measures another checkout of this repository (its migrations, SQL
 * functions, store and service, with its own node_modules) on the same
 * server; repeat it for an A/B. --pools runs case (a) with each of these
 * pool sizes (server connections, each on a database of its own; default
 * --workers), the --workers clients queueing for them as Lambda containers
 * queue in a pooler. Checkouts, pool sizes and pgbench alternate in each round.
 * Each run starts after a CHECKPOINT, so full-page images count as a run of
 * that length would write them. Autovacuum stays on, as in bench:ledger.
 *
 * The CPU time per transaction holds better than a rate on a shared machine,
 * but not entirely: when other work shares the cores, every process gets
 * less done per CPU second. Compare runs of one invocation, not across them.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import { treeAt, treesArg } from "./costs/tree.ts";
import { exitedChildrenCpuMs, localPostmaster, serverCpuMs } from "./server-cpu.ts";
import { argValue, listArg, machineLine, printTable, runFor } from "./support.ts";

const workers = argValue("workers", 16);
const seconds = argValue("seconds", 15);
const accountCount = argValue("accounts", 1000);
const rounds = argValue("rounds", 2);
const poolSizes = listArg("pools", [workers]);
const trees = treesArg();
// Linux reports CPU time in clock ticks of 1/100 s (USER_HZ).
const TICK_MS = 10;

/** CPU ms of the server's live background processes (not client backends), by kind. */
function backgroundCpuMs(postmaster: number): { walWriter: number; other: number } {
  let walWriter = 0;
  let other = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== postmaster) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      // A client backend's title is "postgres: user database host(port) …".
      if (/^postgres: \S+ \S+ [\d.:]+\(\d+\)/.test(cmd)) continue;
      const ms = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
      if (cmd.includes("walwriter")) walWriter += ms;
      else other += ms;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return { walWriter, other };
}

/** Busy and total jiffies of the whole machine. */
function machineTicks(): { busy: number; total: number } {
  const cpu = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - (cpu[3] ?? 0) - (cpu[4] ?? 0), total };
}

const WAL_SQL = `SELECT wal_records::float8 AS records, wal_fpi::float8 AS fpi, wal_bytes::float8 AS bytes,
  wal_sync::float8 AS syncs FROM pg_stat_wal`;
type Wal = { records: number; fpi: number; bytes: number; syncs: number };

interface Run {
  label: string;
  transactions: number;
  seconds: number;
  clientMs: number;
  serverMs: number;
  walWriterMs: number;
  backgroundMs: number;
  coresBusy: number;
  wal: Wal;
  states: Map<string, number>;
}

interface Subject {
  label: string;
  database: string;
  /** Runs the load; returns transactions done and the client's CPU ms. */
  run(): Promise<{ transactions: number; clientMs: number }>;
}

const server = await providePostgres({ durable: true, log: (line) => console.error(line) });
const admin = new pg.Client({ connectionString: server.adminUrl });
// Its failure ends the run through the query that meets it, never as an unheard 'error' event.
admin.on("error", (error) => console.error(`admin session: ${error.message}`));
await admin.connect();
const postmaster = localPostmaster(admin);
const closers: (() => Promise<void>)[] = [];
const runs: Run[][] = [];
try {
  if (postmaster === undefined)
    throw new Error("the server must run on this machine (its CPU is read from /proc)");
  const subjects: Subject[] = [];
  for (const [i, tree] of trees.entries()) {
    for (const size of poolSizes) subjects.push(await ledgerOf(tree, `${i}_${size}`, size));
  }
  const tpcb = await pgbenchSubject();
  if (tpcb) subjects.push(tpcb);
  for (const _ of subjects) runs.push([]);
  for (let round = 1; round <= rounds; round += 1) {
    for (const [i, subject] of subjects.entries()) {
      console.error(`round ${round}: ${subject.label}, ${workers} clients, ${seconds} s…`);
      runs[i]?.push(await measure(subject));
    }
  }
} finally {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await admin.end();
  await server.stop();
}

console.log("");
console.log(machineLine([`${workers} clients`, `${seconds} s per run`, `${rounds} rounds`]));
console.log("");
const per = (run: Run, value: number, digits = 3) => (value / run.transactions).toFixed(digits);
printTable(
  [
    "run",
    "per second",
    "cores busy (of the machine's)",
    "client CPU ms",
    "server CPU ms",
    "of which WAL writer",
    "of which background",
    "WAL records",
    "WAL bytes",
    "full-page images",
    "transactions per WAL sync",
  ],
  runs
    .flat()
    .map((run) => [
      run.label,
      (run.transactions / run.seconds).toFixed(0),
      run.coresBusy.toFixed(2),
      per(run, run.clientMs),
      per(run, run.serverMs),
      per(run, run.walWriterMs),
      per(run, run.backgroundMs),
      per(run, run.wal.records, 1),
      per(run, run.wal.bytes, 0),
      per(run, run.wal.fpi, 2),
      run.wal.syncs > 0 ? (run.transactions / run.wal.syncs).toFixed(1) : "-",
    ]),
);
console.log("");
console.log("Client backends by what they were doing (share of samples):");
for (const run of runs.flat()) {
  const total = [...run.states.values()].reduce((a, b) => a + b, 0);
  const top = [...run.states.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
  console.log(`- ${run.label}: ${top.map(([s, n]) => `${s} ${Math.round((n / total) * 100)} %`).join(", ")}`);
}

async function measure(subject: Subject): Promise<Run> {
  const states = new Map<string, number>();
  let sampling = true;
  // Its failure is kept and thrown after the run, so it is never an unhandled rejection.
  let samplerError: unknown;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await admin.query<{ s: string }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, state) AS s FROM pg_stat_activity
          WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
        [subject.database],
      );
      for (const { s } of rows) states.set(s, (states.get(s) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 10));
    }
  })().catch((error: unknown) => {
    samplerError = error;
  });
  await admin.query("CHECKPOINT");
  const wal0 = (await admin.query<Wal>(WAL_SQL)).rows[0] as Wal;
  const server0 = serverCpuMs(postmaster as number) ?? 0;
  const background0 = backgroundCpuMs(postmaster as number);
  const machine0 = machineTicks();
  const started = performance.now();
  const { transactions, clientMs } = await subject.run();
  const elapsed = (performance.now() - started) / 1000;
  const machine1 = machineTicks();
  const background1 = backgroundCpuMs(postmaster as number);
  const server1 = serverCpuMs(postmaster as number) ?? 0;
  sampling = false;
  await sampler;
  if (samplerError !== undefined) throw samplerError;
  const wal1 = (await admin.query<Wal>(WAL_SQL)).rows[0] as Wal;
  const cores = Number(readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm)?.length ?? 1);
  return {
    label: subject.label,
    transactions,
    seconds: elapsed,
    clientMs,
    serverMs: server1 - server0,
    walWriterMs: background1.walWriter - background0.walWriter,
    backgroundMs: background1.other - background0.other,
    coresBusy: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * cores,
    wal: {
      records: wal1.records - wal0.records,
      fpi: wal1.fpi - wal0.fpi,
      bytes: wal1.bytes - wal0.bytes,
      syncs: wal1.syncs - wal0.syncs,
    },
    states,
  };
}

/** One checkout's case (a) on a pool of poolSize, with that checkout's own modules: migrate, store, service, funding. */
async function ledgerOf(tree: string, index: string, poolSize: number): Promise<Subject> {
  const { load, label: treeLabel } = treeAt(tree);
  const { createPool } = await load<typeof import("../lib/db/pool.ts")>("lib/db/pool.ts");
  const { databaseConfig } = await load<typeof import("../lib/config.ts")>("lib/config.ts");
  const { migrate } = await load<typeof import("../lib/db/migrate.ts")>("lib/db/migrate.ts");
  const { PgLedgerStore } = await load<typeof import("../lib/ledger/pg-ledger-store.ts")>(
    "lib/ledger/pg-ledger-store.ts",
  );
  const { PaymentService } =
    await load<typeof import("../lib/payments/service.ts")>("lib/payments/service.ts");
  const { openFundedAccounts } = await load<typeof import("./support.ts")>("bench/support.ts");
  const db = await freshDatabase(server.adminUrl, `load${index}`, { migrate: false });
  closers.push(() => db.drop());
  await migrate({ databaseUrl: db.directUrl });
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: db.directUrl }), poolMax: poolSize });
  closers.push(() => pool.end());
  const service = new PaymentService(new PgLedgerStore(pool), { idempotencyKeyTtlSeconds: 86_400 });
  const label = `(a) ${treeLabel}${poolSizes.length > 1 ? `, pool of ${poolSize}` : ""}`;
  console.error(`${label}: ${accountCount} funded accounts…`);
  const accounts = (await openFundedAccounts(service, accountCount, workers)).map((a) => a.accountId);
  const pick = () => accounts[Math.floor(Math.random() * accounts.length)] as string;
  let key = 0;
  const pay = async () => {
    const payer = pick();
    let payee = pick();
    while (payee === payer) payee = pick();
    const result = await service.authorizePayment({
      idempotencyKey: `load-${process.pid}-${index}-${key++}`,
      payerAccountId: payer,
      payeeAccountId: payee,
      amountCents: 1n,
      currency: "EUR",
      description: "",
    });
    if (result.status !== "AUTHORIZED") throw new Error(result.decline?.message ?? "declined");
  };
  await runFor(workers, 2_000, pay); // warm-up: connections, plans, caches
  return {
    label,
    database: db.name,
    async run() {
      const cpu0 = process.cpuUsage();
      const result = await runFor(workers, seconds * 1000, pay);
      const cpu = process.cpuUsage(cpu0);
      if (result.errors > 0) throw new Error(`${label}: ${result.errors} payments failed`);
      return { transactions: result.latencies.count, clientMs: (cpu.user + cpu.system) / 1000 };
    },
  };
}

/** pgbench's TPC-B-like script at scale = clients, as bench:ledger runs it; undefined without pgbench. */
async function pgbenchSubject(): Promise<Subject | undefined> {
  const db = await freshDatabase(server.adminUrl, "pgbench", { migrate: false });
  closers.push(() => db.drop());
  const exec = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((done, fail) => {
      const child = spawn("pgbench", args, { stdio: ["ignore", "pipe", "ignore"] });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.on("error", fail);
      child.on("exit", (code) => done({ code, out }));
    });
  try {
    const init = await exec(["-i", "-q", "-s", String(workers), db.directUrl]);
    if (init.code !== 0) return undefined;
  } catch {
    console.error("pgbench not found on PATH: install the PostgreSQL client tools to compare with TPC-B.");
    return undefined;
  }
  return {
    label: `pgbench TPC-B-like (scale ${workers})`,
    database: db.name,
    async run() {
      const args = ["-n", "-M", "prepared", "-c", String(workers), "-j", "2", "-T", String(seconds)];
      // Its CPU time, as this process's reaped children's: it has exited and been waited for.
      const cpu0 = exitedChildrenCpuMs();
      const { code, out } = await exec([...args, db.directUrl]);
      const cpuMs = exitedChildrenCpuMs() - cpu0;
      const transactions = Number(out.match(/number of transactions actually processed: (\d+)/)?.[1]);
      if (code !== 0 || !transactions) throw new Error(`pgbench failed: ${out}`);
      return { transactions, clientMs: cpuMs };
    },
  };
}
