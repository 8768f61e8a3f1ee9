// Over 300 lines on purpose: one server's counters read before and after a run and turned into per-transaction costs; the report is bench/costs/report.ts.
/**
 * What a run of transactions cost one database, from the server's own
 * counters: the statements clients sent and the ones those ran
 * (pg_stat_statements, track = all), WAL by record kind and by relation
 * (pg_walinspect, over the run's LSN range), row versions (pg_stat_user_tables),
 * commits, buffers (pg_stat_database) and WAL flushes (pg_stat_wal). Counts,
 * not rates: they hold on a busy machine, where throughput does not.
 *
 * The server must preload pg_stat_statements and run nothing else during a
 * measurement: pg_stat_wal and the WAL are the whole server's.
 */
import pg from "pg";
import { localPostmaster, serverCpuMs } from "../server-cpu.ts";

/** Per-transaction costs of one measured run. */
export interface Costs {
  transactions: number;
  /** Statements clients sent: round trips. */
  roundTrips: number;
  /** Statements those ran inside the server (functions' statements, foreign-key checks). */
  nestedStatements: number;
  wal: { records: number; recordBytes: number; fullPages: number; fullPageBytes: number };
  /** WAL records by resource manager and kind ("Heap/HOT_UPDATE"): count and bytes per transaction. */
  walByKind: Map<string, { records: number; bytes: number }>;
  /** WAL records by the relation of their first block (table or index). */
  walByRelation: Map<string, { records: number; bytes: number; fullPageBytes: number }>;
  /** Row versions written, by table: inserted, updated (HOT among them), deleted. */
  rowVersions: Map<string, { inserted: number; updated: number; hot: number; deleted: number }>;
  /** Heap LOCK records: rows locked without being updated in the same statement. */
  rowLocks: number;
  rowsUpdated: number;
  /** B-tree leaf insertions (new index entries; posting-list merges count too). */
  indexEntries: number;
  commits: number;
  rollbacks: number;
  walFlushes: number;
  walFlushMs: number;
  buffersHit: number;
  buffersRead: number;
  buffersDirtied: number;
  /** Server execution time of the client's statements, ms per transaction. */
  serverMs: number;
  /** Each statement of the run, in the order each first ran. */
  statements: StatementCost[];
}

export interface StatementCost {
  query: string;
  toplevel: boolean;
  callsPerTransaction: number;
  /** Mean execution time per call, including any statements it ran itself. */
  meanMs: number;
  rowsPerCall: number;
  walBytesPerTransaction: number;
  dirtiedPerTransaction: number;
}

interface Snapshot {
  lsn: string;
  tables: Map<string, { ins: number; upd: number; hot: number; del: number }>;
  database: { commits: number; rollbacks: number; hit: number; read: number };
  wal: { flushes: number; flushMs: number; fullPages: number };
}

const MARK = "/* ledger-costs */";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function sameTables(a: Snapshot, b: Snapshot): boolean {
  for (const [name, t] of a.tables) {
    const u = b.tables.get(name);
    if (!u || u.ins !== t.ins || u.upd !== t.upd || u.del !== t.del) return false;
  }
  return true;
}

/** CPU time per transaction, ms: the server's processes', the client's, and the wall-clock time. */
export interface CpuCosts {
  serverMs: number;
  clientMs: number;
  wallMs: number;
}

/** Counters of one database, read through a superuser session on the server. */
export class CostCounters {
  private constructor(
    private readonly admin: pg.Client,
    private readonly target: pg.Client,
    private readonly databaseOid: number,
    private readonly postmaster: number | undefined,
  ) {}

  /** adminUrl: a superuser session (any database); databaseUrl: the measured database. */
  static async open(adminUrl: string, databaseUrl: string): Promise<CostCounters> {
    const admin = new pg.Client({ connectionString: adminUrl });
    const target = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await target.connect();
    try {
      await admin.query(`${MARK} CREATE EXTENSION IF NOT EXISTS pg_stat_statements`);
      await admin.query(`${MARK} CREATE EXTENSION IF NOT EXISTS pg_walinspect`);
      await admin.query(`${MARK} SELECT 1 FROM pg_stat_statements LIMIT 1`);
    } catch (error) {
      await admin.end();
      await target.end();
      throw new Error(
        `the server must preload pg_stat_statements and offer pg_walinspect (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    const { rows } = await target.query<{ oid: number }>(
      `${MARK} SELECT oid FROM pg_database WHERE datname = current_database()`,
    );
    return new CostCounters(admin, target, rows[0]?.oid ?? 0, localPostmaster(admin));
  }

  async close(): Promise<void> {
    await this.admin.end();
    await this.target.end();
  }

  /**
   * Runs `work` (which makes `transactions` transactions in the database) and
   * returns what they cost per transaction (or per whatever `transactions`
   * counts, when `work` commits `commits` times). A checkpoint first, so every run starts with the
   * same full-page-image state: each page's first change after it is logged whole.
   */
  async measure(transactions: number, work: () => Promise<void>, commits = transactions): Promise<Costs> {
    await this.admin.query(`${MARK} CHECKPOINT`);
    // What came before must be counted before the run starts: sessions
    // report their counters when idle, at most once a second (and up to ten
    // seconds later when the shared counters are busy).
    let before = await this.settled();
    await this.admin.query(`${MARK} SELECT pg_stat_statements_reset()`);
    before = await this.snapshot();
    await work();
    let after = await this.snapshot();
    for (let waited = 0; after.database.commits - before.database.commits < commits && waited < 15_000; ) {
      await sleep(500);
      waited += 500;
      after = await this.snapshot();
    }
    after = await this.settled(after);
    return this.costs(transactions, before, after);
  }

  /** A snapshot once the counters have stopped moving (nothing left to report). */
  private async settled(from?: Snapshot): Promise<Snapshot> {
    let last = from ?? (await this.snapshot());
    for (let i = 0; i < 30; i++) {
      await sleep(1_100);
      const next = await this.snapshot();
      if (next.database.commits === last.database.commits && sameTables(next, last)) return next;
      last = next;
    }
    return last;
  }

  /**
   * Runs `work` (`transactions` transactions) and returns the CPU time it
   * took per transaction: the whole server's (every Postgres process on this
   * machine) and the client's, from `clientCpuMs` (a cumulative reading in
   * ms). Undefined when the server is not on this machine.
   */
  async cpu(
    transactions: number,
    clientCpuMs: () => number,
    work: () => Promise<void>,
  ): Promise<CpuCosts | undefined> {
    if (this.postmaster === undefined) return undefined;
    await this.admin.query(`${MARK} CHECKPOINT`);
    const server0 = serverCpuMs(this.postmaster) ?? 0;
    const client0 = clientCpuMs();
    const wall0 = performance.now();
    await work();
    const wallMs = performance.now() - wall0;
    const clientMs = clientCpuMs() - client0;
    const serverMs = (serverCpuMs(this.postmaster) ?? 0) - server0;
    return {
      serverMs: serverMs / transactions,
      clientMs: clientMs / transactions,
      wallMs: wallMs / transactions,
    };
  }

  private async snapshot(): Promise<Snapshot> {
    await this.admin.query(`${MARK} SELECT pg_stat_clear_snapshot()`);
    await this.target.query(`${MARK} SELECT pg_stat_clear_snapshot()`);
    const lsn = (await this.admin.query<{ lsn: string }>(`${MARK} SELECT pg_current_wal_lsn()::text AS lsn`))
      .rows[0]?.lsn as string;
    const { rows: tables } = await this.target.query<{
      relname: string;
      ins: string;
      upd: string;
      hot: string;
      del: string;
    }>(
      `${MARK} SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del
       FROM pg_stat_user_tables`,
    );
    const { rows: db } = await this.admin.query<Record<string, string>>(
      `${MARK} SELECT xact_commit, xact_rollback, blks_hit, blks_read FROM pg_stat_database WHERE datid = $1`,
      [this.databaseOid],
    );
    const { rows: wal } = await this.admin.query<{
      wal_sync: string;
      wal_sync_time: number;
      wal_fpi: string;
    }>(`${MARK} SELECT wal_sync, wal_sync_time, wal_fpi FROM pg_stat_wal`);
    return {
      lsn,
      tables: new Map(
        tables.map((t) => [
          t.relname,
          { ins: Number(t.ins), upd: Number(t.upd), hot: Number(t.hot), del: Number(t.del) },
        ]),
      ),
      database: {
        commits: Number(db[0]?.xact_commit ?? 0),
        rollbacks: Number(db[0]?.xact_rollback ?? 0),
        hit: Number(db[0]?.blks_hit ?? 0),
        read: Number(db[0]?.blks_read ?? 0),
      },
      wal: {
        flushes: Number(wal[0]?.wal_sync ?? 0),
        flushMs: Number(wal[0]?.wal_sync_time ?? 0),
        fullPages: Number(wal[0]?.wal_fpi ?? 0),
      },
    };
  }

  private async costs(n: number, before: Snapshot, after: Snapshot): Promise<Costs> {
    const per = (value: number) => value / n;
    const { rows: kinds } = await this.admin.query<{
      kind: string;
      count: string;
      record_size: string;
      fpi_size: string;
    }>(
      `${MARK} SELECT "resource_manager/record_type" AS kind, count, record_size, fpi_size
       FROM pg_get_wal_stats($1, $2, true) WHERE count > 0`,
      [before.lsn, after.lsn],
    );
    const walByKind = new Map(
      kinds.map((k) => [k.kind, { records: per(Number(k.count)), bytes: per(Number(k.record_size)) }]),
    );
    const sum = (pick: (k: (typeof kinds)[number]) => string) =>
      kinds.reduce((total, k) => total + Number(pick(k)), 0);
    const count = (kind: string) => walByKind.get(kind)?.records ?? 0;

    const { rows: byRelation } = await this.admin.query<{
      relfilenode: number;
      records: string;
      bytes: string;
      fpi: string;
    }>(
      `${MARK} SELECT relfilenode, count(*) FILTER (WHERE block_id = 0) AS records,
              coalesce(sum(record_length) FILTER (WHERE block_id = 0), 0) AS bytes,
              coalesce(sum(block_fpi_length), 0) AS fpi
       FROM pg_get_wal_block_info($1, $2, false)
       WHERE reldatabase = $3 AND relforknumber = 0
       GROUP BY relfilenode`,
      [before.lsn, after.lsn, this.databaseOid],
    );
    const { rows: names } = await this.target.query<{ relfilenode: number; relname: string }>(
      `${MARK} SELECT pg_relation_filenode(oid) AS relfilenode, relname FROM pg_class
       WHERE pg_relation_filenode(oid) = ANY($1::oid[])`,
      [byRelation.map((r) => r.relfilenode)],
    );
    const nameOf = new Map(names.map((r) => [r.relfilenode, r.relname]));
    const walByRelation = new Map(
      byRelation
        .map(
          (r) =>
            [
              nameOf.get(r.relfilenode) ?? `relfilenode ${r.relfilenode}`,
              {
                records: per(Number(r.records)),
                bytes: per(Number(r.bytes)),
                fullPageBytes: per(Number(r.fpi)),
              },
            ] as const,
        )
        .sort((a, b) => b[1].bytes + b[1].fullPageBytes - (a[1].bytes + a[1].fullPageBytes)),
    );

    const rowVersions = new Map<
      string,
      { inserted: number; updated: number; hot: number; deleted: number }
    >();
    for (const [table, a] of after.tables) {
      const b = before.tables.get(table) ?? { ins: 0, upd: 0, hot: 0, del: 0 };
      const delta = {
        inserted: per(a.ins - b.ins),
        updated: per(a.upd - b.upd),
        hot: per(a.hot - b.hot),
        deleted: per(a.del - b.del),
      };
      if (delta.inserted || delta.updated || delta.deleted) rowVersions.set(table, delta);
    }

    const { rows: statements } = await this.admin.query<{
      query: string;
      toplevel: boolean;
      calls: string;
      total_exec_time: number;
      rows: string;
      wal_bytes: string;
      shared_blks_dirtied: string;
    }>(
      `${MARK} SELECT query, toplevel, calls, total_exec_time, rows, wal_bytes, shared_blks_dirtied
       FROM pg_stat_statements WHERE dbid = $1 AND query NOT LIKE '%ledger-costs%'
       ORDER BY stats_since, queryid`,
      [this.databaseOid],
    );
    // pg_stat_statements counts a transaction-control statement sent through
    // the extended protocol (pgbench -M prepared) once, however often it ran:
    // each one ran once per transaction.
    const commits = after.database.commits - before.database.commits;
    for (const s of statements) {
      if (s.toplevel && /^(BEGIN|END|COMMIT|START TRANSACTION)\b/i.test(s.query.trim()))
        s.calls = String(commits);
    }
    const top = statements.filter((s) => s.toplevel);
    const nested = statements.filter((s) => !s.toplevel);
    const total = (list: typeof statements, pick: (s: (typeof statements)[number]) => string | number) =>
      list.reduce((acc, s) => acc + Number(pick(s)), 0);

    return {
      transactions: n,
      roundTrips: per(total(top, (s) => s.calls)),
      nestedStatements: per(total(nested, (s) => s.calls)),
      wal: {
        records: per(sum((k) => k.count)),
        recordBytes: per(sum((k) => k.record_size)),
        fullPages: per(after.wal.fullPages - before.wal.fullPages),
        fullPageBytes: per(sum((k) => k.fpi_size)),
      },
      walByKind,
      walByRelation,
      rowVersions,
      rowLocks: count("Heap/LOCK"),
      rowsUpdated: count("Heap/UPDATE") + count("Heap/HOT_UPDATE") + count("Heap/UPDATE+INIT"),
      indexEntries:
        count("Btree/INSERT_LEAF") +
        count("Btree/INSERT_POST") +
        count("Btree/SPLIT_L") +
        count("Btree/SPLIT_R") +
        count("Btree/DEDUP"),
      commits: per(after.database.commits - before.database.commits),
      rollbacks: per(after.database.rollbacks - before.database.rollbacks),
      walFlushes: per(after.wal.flushes - before.wal.flushes),
      walFlushMs:
        after.wal.flushes > before.wal.flushes
          ? (after.wal.flushMs - before.wal.flushMs) / (after.wal.flushes - before.wal.flushes)
          : 0,
      buffersHit: per(after.database.hit - before.database.hit),
      buffersRead: per(after.database.read - before.database.read),
      buffersDirtied: per(total(top, (s) => s.shared_blks_dirtied)),
      serverMs: per(total(top, (s) => s.total_exec_time)),
      statements: statements.map((s) => ({
        query: s.query.replace(/\s+/g, " ").trim(),
        toplevel: s.toplevel,
        callsPerTransaction: per(Number(s.calls)),
        meanMs: Number(s.calls) ? s.total_exec_time / Number(s.calls) : 0,
        rowsPerCall: Number(s.calls) ? Number(s.rows) / Number(s.calls) : 0,
        walBytesPerTransaction: per(Number(s.wal_bytes)),
        dirtiedPerTransaction: per(Number(s.shared_blks_dirtied)),
      })),
    };
  }
}
