import pg from "pg";
import type { DatabaseConfig } from "../config.ts";

// int8 comes back as a string by default; money is int8, so parse it as bigint
// and never through a float.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => BigInt(value));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  /**
   * false: this pool's commits do not wait for the WAL flush. Only for work
   * whose loss in a database crash is harmless by design (the outbox drain:
   * a lost "published" mark means the event is sent again, which
   * at-least-once allows; the WAL is replayed as a prefix, so a later mark
   * is never kept while an earlier one is lost).
   */
  synchronousCommit?: boolean;
}

export function createPool(config: DatabaseConfig, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    ...(options.synchronousCommit === false ? { options: "-c synchronous_commit=off" } : {}),
    connectionString: config.url,
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs,
    statement_timeout: config.statementTimeoutMs || undefined,
    // Lambda freezes idle containers; short idle time avoids reusing sockets
    // the server side has already closed.
    idleTimeoutMillis: 30_000,
  });
  // An idle client's socket error must not crash the process; the pool drops it.
  pool.on("error", () => {});
  return pool;
}
