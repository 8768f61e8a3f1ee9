/**
 * What the soak reads from Postgres: table sizes and row versions, pending
 * events, WAL written, the statements clients ran (pg_stat_statements, when
 * loaded) and, for a server on this machine, its CPU time. Every query it
 * runs carries a marker comment, so the statement counts leave it out.
 */
import pg from "pg";
import { localPostmaster, serverCpuMs } from "../server-cpu.ts";

export const WATCHED_TABLES = ["outbox", "idempotency_keys", "inbox", "payments", "ledger_entries"] as const;
export type WatchedTable = (typeof WATCHED_TABLES)[number];
/** The tables retention keeps at a steady size: the verdict's subjects. */
export const RETAINED: readonly WatchedTable[] = ["outbox", "idempotency_keys", "inbox"];

const MARK = "/* soak-monitor */";

export interface TableSample {
  rows: number;
  /** Heap, indexes and TOAST. */
  bytes: number;
  deadTuples: number;
  /** Vacuums of the table so far (autovacuum and manual). */
  vacuums: number;
}

/** Counters since the server started; the soak reports their differences. */
export interface Counters {
  walBytes: number;
  walRecords: number;
  walFullPages: number;
  /** Rows inserted, updated and deleted in every table of the database: the row versions written. */
  rowVersions: Record<string, number>;
  /** Top-level statements by who runs them (undefined without pg_stat_statements). */
  statements: Record<Component, { calls: number; execMs: number }> | undefined;
  /** The same, statement by statement (pg_stat_statements' queryid), with the statement's text. */
  byStatement: Map<string, { text: string; calls: number; execMs: number }> | undefined;
  /** User + system CPU of the server's processes (undefined when the server is not on this machine). */
  postgresCpuMs: number | undefined;
}

export interface DatabaseSample {
  tables: Record<WatchedTable, TableSample>;
  pending: number;
  counters: Counters;
}

export type Component = "api" | "drain" | "maintenance" | "consumer" | "transaction control" | "other";

/** Who sent a statement, from its text (the repositories' SQL). */
export function componentOf(query: string): Component {
  // The payment itself, the ownership check's account read, the nudge's shared throttle.
  if (/authorize_payment|FROM accounts|last_nudge_at/i.test(query)) return "api";
  if (/^\s*(BEGIN|COMMIT|ROLLBACK)/i.test(query)) return "transaction control";
  if (/INSERT INTO inbox/i.test(query)) return "consumer";
  if (
    /DELETE FROM (outbox|idempotency_keys|inbox|dead_letters)|min\((expires_at|processed_at|redriven_at|published_at)\)/i.test(
      query,
    )
  )
    return "maintenance";
  if (/outbox|advisory|broker_down/i.test(query)) return "drain";
  return "other";
}

export class DatabaseSampler {
  private constructor(
    private readonly client: pg.Client,
    private readonly statementsLoaded: boolean,
    private readonly postmasterPid: number | undefined,
  ) {}

  /** Connects its own session; turns on pg_stat_statements in the database when the server preloads it. */
  static async connect(url: string): Promise<DatabaseSampler> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let statementsLoaded = false;
    try {
      await client.query(`${MARK} CREATE EXTENSION IF NOT EXISTS pg_stat_statements`);
      await client.query(`${MARK} SELECT pg_stat_statements_reset()`);
      statementsLoaded = true;
    } catch {
      // Not preloaded (shared_preload_libraries) on this server: no statement counts.
    }
    return new DatabaseSampler(client, statementsLoaded, localPostmaster(client));
  }

  get hasStatements(): boolean {
    return this.statementsLoaded;
  }

  get hasPostgresCpu(): boolean {
    return this.postmasterPid !== undefined;
  }

  async sample(): Promise<DatabaseSample> {
    const { rows: tables } = await this.client.query<{
      relname: string;
      rows: string;
      bytes: string;
      dead: string;
      vacuums: string;
    }>(
      `${MARK} SELECT relname, n_live_tup AS rows, pg_total_relation_size(relid) AS bytes, n_dead_tup AS dead,
              autovacuum_count + vacuum_count AS vacuums
       FROM pg_stat_user_tables WHERE relname = ANY($1)`,
      [WATCHED_TABLES],
    );
    // The retained tables are small and the verdict's subject: counted exactly.
    const { rows: exact } = await this.client.query<Record<string, string>>(
      `${MARK} SELECT (SELECT count(*) FROM outbox) AS outbox, (SELECT count(*) FROM idempotency_keys) AS idempotency_keys,
              (SELECT count(*) FROM inbox) AS inbox,
              (SELECT count(*) FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL) AS pending`,
    );
    const counts = exact[0] ?? {};
    const byName = Object.fromEntries(
      WATCHED_TABLES.map((name) => {
        const row = tables.find((t) => t.relname === name);
        const rows = counts[name] !== undefined ? Number(counts[name]) : Number(row?.rows ?? 0);
        return [
          name,
          {
            rows,
            bytes: Number(row?.bytes ?? 0),
            deadTuples: Number(row?.dead ?? 0),
            vacuums: Number(row?.vacuums ?? 0),
          },
        ];
      }),
    ) as Record<WatchedTable, TableSample>;
    return { tables: byName, pending: Number(counts.pending ?? 0), counters: await this.counters() };
  }

  /** Rows and bytes of the retained tables alone: read right after each maintenance run. */
  async retained(): Promise<Record<string, TableSample>> {
    const { rows } = await this.client.query<Record<string, string>>(
      `${MARK} SELECT (SELECT count(*) FROM outbox) AS outbox, pg_total_relation_size('outbox') AS outbox_bytes,
              (SELECT count(*) FROM idempotency_keys) AS idempotency_keys,
              pg_total_relation_size('idempotency_keys') AS idempotency_keys_bytes,
              (SELECT count(*) FROM inbox) AS inbox, pg_total_relation_size('inbox') AS inbox_bytes`,
    );
    const row = rows[0] ?? {};
    return Object.fromEntries(
      RETAINED.map((name) => [
        name,
        { rows: Number(row[name] ?? 0), bytes: Number(row[`${name}_bytes`] ?? 0), deadTuples: 0, vacuums: 0 },
      ]),
    );
  }

  private async counters(): Promise<Counters> {
    const { rows: wal } = await this.client.query<{ lsn: string; records: string; fpi: string }>(
      `${MARK} SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS lsn, wal_records::text AS records,
              wal_fpi::text AS fpi FROM pg_stat_wal`,
    );
    const { rows: versions } = await this.client.query<{ relname: string; n: string }>(
      `${MARK} SELECT relname, (n_tup_ins + n_tup_upd + n_tup_del)::text AS n FROM pg_stat_user_tables`,
    );
    let statements: Counters["statements"];
    let byStatement: Counters["byStatement"];
    if (this.statementsLoaded) {
      const { rows } = await this.client.query<{ id: string; query: string; calls: string; ms: number }>(
        `${MARK} SELECT queryid::text AS id, query, calls::text, total_exec_time AS ms FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel
           AND query NOT LIKE '%soak-monitor%'`,
      );
      statements = {
        api: { calls: 0, execMs: 0 },
        drain: { calls: 0, execMs: 0 },
        maintenance: { calls: 0, execMs: 0 },
        consumer: { calls: 0, execMs: 0 },
        "transaction control": { calls: 0, execMs: 0 },
        other: { calls: 0, execMs: 0 },
      };
      byStatement = new Map();
      for (const row of rows) {
        const bucket = statements[componentOf(row.query)];
        bucket.calls += Number(row.calls);
        bucket.execMs += row.ms;
        byStatement.set(row.id, { text: row.query, calls: Number(row.calls), execMs: row.ms });
      }
    }
    const w = wal[0];
    return {
      walBytes: Number(w?.lsn ?? 0),
      walRecords: Number(w?.records ?? 0),
      walFullPages: Number(w?.fpi ?? 0),
      rowVersions: Object.fromEntries(versions.map((v) => [v.relname, Number(v.n)])),
      statements,
      byStatement,
      postgresCpuMs: this.postmasterPid === undefined ? undefined : serverCpuMs(this.postmasterPid),
    };
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
