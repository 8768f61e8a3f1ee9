/**
 * A client checked out of a function's pool (lib/db/pool.ts createPool, from
 * DATABASE_URL) inside a transaction, idle while the parent kills its server
 * session: what a dead-letter hand-off holding its row lock while it publishes
 * looks like when Postgres restarts. Prints "pid <n>" once idle in its
 * transaction; once the connection has closed, prints "survived" if the next
 * query fails, the pool discards the client and hands out a working one. Without an error listener on the client, the
 * session's end would have been an uncaught exception, exiting non-zero.
 */
import { databaseConfig } from "../../lib/config.ts";
import { createPool } from "../../lib/db/pool.ts";

const pool = createPool({ ...databaseConfig(process.env), poolMax: 1 });
const client = await pool.connect();
await client.query("BEGIN");
const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
const ended = new Promise((resolve) => client.once("end", resolve));
process.stdout.write(`pid ${rows[0]?.pid}\n`);
// The connection closes after the server (or the pooler, when its server session dies) said why:
// by then the "error" event has been emitted, heard or not.
await ended;
const failed = await client.query("SELECT 1").then(
  () => false,
  () => true,
);
client.release();
const after = await pool.query<{ one: number }>("SELECT 1 AS one");
process.stdout.write(failed && after.rows[0]?.one === 1 ? "survived\n" : `unexpected: failed=${failed}\n`);
await pool.end();
