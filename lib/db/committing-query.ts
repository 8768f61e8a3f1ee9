import type { QueryConfig, QueryResult, QueryResultRow } from "pg";
import type { Pool } from "./pool.ts";

/**
 * One statement that commits by itself (autocommit), with `beforeSend` called
 * once a connection is in hand and nothing else is left before the statement
 * goes out: the point from which it may commit. Waiting for a connection comes
 * before it, so a caller may still give up there with nothing written.
 * pool.query offers no such point; otherwise this is pool.query: a connection
 * whose statement failed, or whose socket broke while checked out, is
 * discarded rather than reused. (A session killed while checked out cannot
 * crash the process: the pool gives every client an "error" listener,
 * lib/db/pool.ts.)
 */
export async function queryCommitting<R extends QueryResultRow>(
  pool: Pool,
  query: QueryConfig<unknown[]>,
  beforeSend: (() => void) | undefined,
): Promise<QueryResult<R>> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    beforeSend?.();
    return await client.query<R>(query);
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
}
