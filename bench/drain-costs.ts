import type { Pool } from "../lib/db/pool.ts";
import {
  freshDatabase,
  onServer,
  providePostgres,
  type TestDatabase,
} from "../tools/local-services/postgres.ts";
import { CostCounters } from "./costs/counters.ts";
import { type Measured, printCosts } from "./costs/report.ts";
import { treeAt, treesArg } from "./costs/tree.ts";
import { fillOutbox } from "./outbox-fill.ts";
import { argValue, machineLine, printTable } from "./support.ts";

const events = argValue("events", 20_000);
const batchSize = argValue("batch", 1_000);
const rounds = argValue("rounds", 2);
const trees = treesArg();
if (process.env.DATABASE_URL) console.error("DATABASE_URL ignored: this benchmark needs a server of its own");
delete process.env.DATABASE_URL;

const server = await providePostgres({
  durable: true,
  log: (line) => console.error(line),
  settings: {
    shared_preload_libraries: "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "pg_stat_statements.max": "10000",
    autovacuum: "off",
  },
});
/** Databases made for this run, dropped when it ends (they outlive it on a DATABASE_URL server otherwise). */
const databases: TestDatabase[] = [];

interface Subject {
  label: string;
  counts(): Promise<Measured["costs"]>;
  /** VACUUM of the outbox right after the counted drain: what its dead row versions cost to clean up. */
  vacuum(): Promise<{ costs: Measured["costs"]; cpu: Measured["cpu"][number] | undefined }>;
  cpu(): Promise<Measured["cpu"][number] | undefined>;
  plan(): Promise<string>;
  close(): Promise<void>;
}

const subjects: Subject[] = [];
try {
  const version = await onServer(server.adminUrl, "SELECT current_setting('server_version') AS v");
  for (const tree of trees) subjects.push(await drainOf(tree, subjects.length));
  const results: Measured[] = [];
  const vacuums: Measured[] = [];
  for (const subject of subjects) {
    console.error(`${subject.label}: ${events} events in batches of ${batchSize}, counted…`);
    results.push({ label: subject.label, costs: await subject.counts(), cpu: [], contended: [] });
    const vacuum = await subject.vacuum();
    vacuums.push({
      label: subject.label,
      costs: vacuum.costs,
      cpu: vacuum.cpu ? [vacuum.cpu] : [],
      contended: [],
    });
  }
  for (let round = 1; round <= rounds; round++) {
    for (const [i, subject] of subjects.entries()) {
      console.error(`round ${round}: ${subject.label}: ${events} events, CPU time…`);
      const cpu = await subject.cpu();
      if (cpu) results[i]?.cpu.push(cpu);
    }
  }
  console.log("");
  console.log(
    machineLine([
      `PostgreSQL ${version} (fsync on)`,
      `${events} events per run, batch ${batchSize}, one claim and one mark at a time`,
      `${rounds} rounds`,
    ]),
  );
  printCosts(results, `Per event (claim and mark of a ${batchSize}-event batch, divided by ${batchSize}):`);
  console.log("");
  console.log("VACUUM of the outbox after the drain (its dead row versions and index entries), per event:");
  console.log("");
  printTable(
    ["", ...vacuums.map((v) => v.label)],
    [
      ["WAL records", ...vacuums.map((v) => v.costs.wal.records.toFixed(2))],
      ["WAL bytes, records", ...vacuums.map((v) => v.costs.wal.recordBytes.toFixed(0))],
      ["WAL full-page images, bytes", ...vacuums.map((v) => v.costs.wal.fullPageBytes.toFixed(0))],
      ["server CPU, µs", ...vacuums.map((v) => (v.cpu[0] ? (v.cpu[0].serverMs * 1000).toFixed(2) : "-"))],
    ],
  );
  for (const r of results) {
    console.log("");
    console.log(`${r.label}: statements per ${batchSize}-event batch (times include what they call):`);
    console.log("");
    printTable(
      ["statement", "per batch", "mean µs", "µs per event", "rows", "WAL B per event"],
      r.costs.statements
        .filter((s) => s.toplevel && s.callsPerTransaction > 0)
        .map((s) => [
          s.query.length > 90 ? `${s.query.slice(0, 87)}...` : s.query,
          (s.callsPerTransaction * batchSize).toFixed(2),
          (s.meanMs * 1000).toFixed(0),
          (s.meanMs * 1000 * s.callsPerTransaction).toFixed(2),
          s.rowsPerCall.toFixed(0),
          s.walBytesPerTransaction.toFixed(0),
        ]),
    );
  }
  for (const subject of subjects) {
    console.log("");
    console.log(`${subject.label}: the claim at a backlog of ${events} events, EXPLAIN (ANALYZE, BUFFERS):`);
    console.log("");
    console.log(await subject.plan());
  }
} finally {
  for (const subject of subjects) await subject.close().catch(() => undefined);
  for (const db of databases) await db.drop().catch(() => undefined);
  await server.stop();
}

/** One checkout's outbox: its migrations and its repository, on a database of its own. */
async function drainOf(tree: string, index: number): Promise<Subject> {
  const { load, label } = treeAt(tree);
  const { migrate } = await load<typeof import("../lib/db/migrate.ts")>("lib/db/migrate.ts");
  const { createPool } = await load<typeof import("../lib/db/pool.ts")>("lib/db/pool.ts");
  const { databaseConfig } = await load<typeof import("../lib/config.ts")>("lib/config.ts");
  const { OutboxRepository } = await load<typeof import("../lib/outbox/outbox-repository.ts")>(
    "lib/outbox/outbox-repository.ts",
  );
  const db = await freshDatabase(server.adminUrl, `drain_costs_${index}`, { migrate: false });
  databases.push(db);
  const url = db.directUrl;
  await migrate({ databaseUrl: url });
  const counters = await CostCounters.open(server.adminUrl, url);
  const pool: Pool = createPool({ ...databaseConfig({ DATABASE_URL: url }), poolMax: 4 });
  // The claim as the repository sends it, kept for EXPLAIN.
  let claimSql: { text: string; values: unknown[] } | undefined;
  let markSql: string | undefined;
  const recording = new Proxy(pool, {
    get(target, key, receiver) {
      if (key !== "query") return Reflect.get(target, key, receiver);
      return (text: string, values: unknown[]) => {
        if (claimSql === undefined && /FOR UPDATE/.test(text)) claimSql = { text, values };
        if (markSql === undefined && /SET published_at/.test(text)) markSql = text;
        return target.query(text, values);
      };
    },
  });
  const repository = new OutboxRepository(recording);
  const fill = () => fillOutbox(pool, events);
  const drainAll = async () => {
    for (;;) {
      const now = new Date();
      const claimed = await repository.claim("bench-drain", batchSize, now, new Date(now.getTime() + 60_000));
      if (claimed.length === 0) return;
      await repository.markPublished(
        claimed.map((e) => e.seq),
        new Date(),
      );
    }
  };
  await fill();
  await drainAll(); // warm-up: plans, caches
  const ownCpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  return {
    label,
    async counts() {
      await fill();
      // Two commits a batch: the claim and the mark.
      return counters.measure(events, drainAll, 2 * Math.ceil(events / batchSize));
    },
    async vacuum() {
      // The counted drain's dead versions, counted; then another drain's, timed.
      const costs = await counters.measure(
        events,
        () => pool.query("VACUUM outbox").then(() => undefined),
        1,
      );
      await fill();
      await drainAll();
      const cpu = await counters.cpu(events, ownCpuMs, () =>
        pool.query("VACUUM outbox").then(() => undefined),
      );
      return { costs, cpu };
    },
    async cpu() {
      await fill();
      return counters.cpu(events, ownCpuMs, drainAll);
    },
    async plan() {
      await fill();
      if (!claimSql) return "(no claim recorded)";
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const now = new Date();
        const values = [...claimSql.values];
        values[0] = now;
        values[3] = new Date(now.getTime() + 60_000);
        const explain = async (text: string, params: unknown[]) => {
          const { rows } = await client.query<{ "QUERY PLAN": string }>(
            `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`,
            params,
          );
          // A batch's seqs as an array literal would fill the screen: first and last only.
          return rows
            .map((r) => r["QUERY PLAN"].replace(/'\{(\d+),[\d,]*,(\d+)\}'/g, "'{$1,…,$2}'"))
            .join("\n");
        };
        const claim = await explain(claimSql.text, values);
        if (!markSql) return claim;
        // The mark of the batch just claimed (inside the same rolled-back transaction).
        const { rows: claimed } = await client.query<{ seqs: string }>(
          "SELECT array_agg(seq)::text AS seqs FROM outbox WHERE claimed_by = $1 AND published_at IS NULL",
          [values[2]],
        );
        const mark = await explain(markSql, [claimed[0]?.seqs ?? "{}", new Date()]);
        return `${claim}\n\nThe mark of that batch:\n\n${mark}`;
      } finally {
        await client.query("ROLLBACK");
        client.release();
      }
    },
    async close() {
      await counters.close();
      await pool.end();
    },
  };
}
