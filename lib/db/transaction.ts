import type { Pool, PoolClient } from "./pool.ts";

/**
 * Runs `work` in one transaction on one pooled connection: COMMIT if it
 * resolves, ROLLBACK if it throws. A connection whose ROLLBACK fails (the
 * server ended the session, the socket broke mid-transaction) is discarded
 * with release(error) instead of going back to the pool, so the next user
 * never inherits a dead or half-finished session. (A session killed while
 * checked out cannot crash the process: the pool gives every client an
 * "error" listener, lib/db/pool.ts.)
 */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    broken = await rollback(client, error);
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Undefined when the connection is clean again; otherwise why it must be discarded. */
async function rollback(client: PoolClient, cause: unknown): Promise<Error | undefined> {
  try {
    await client.query("ROLLBACK");
    return undefined;
  } catch (rollbackError) {
    return new Error("connection broken mid-transaction", { cause: rollbackError ?? cause });
  }
}
