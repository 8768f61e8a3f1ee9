import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { PG_MIGRATE_LOCK_ID, runner } from "node-pg-migrate";
import type pg from "pg";
import { type SecretSource, SecretsManagerSource } from "../aws/secrets.ts";
import { backoffDelayMs } from "../backoff.ts";
import { databaseConfig, type Env, migrationDatabaseConfig, migrationsConfig } from "../config.ts";
import { isLockConflict } from "./errors.ts";
import { connectClient, databaseUser, withDatabaseUrl } from "./pool.ts";
import { applyRoleSettings } from "./role-settings.ts";

export const MIGRATIONS_TABLE = "schema_migrations";

/**
 * Migrations renamed after they shipped, as node-pg-migrate records them (file
 * name without .sql). With checkOrder, node-pg-migrate refuses a database
 * whose recorded names differ from the files, so migrate() first rewrites the
 * old name in schema_migrations (idempotent: a no-op once done or on a fresh
 * database). Entries stay as long as a database migrated by an older release
 * may exist.
 */
export const RENAMED_MIGRATIONS: readonly { from: string; to: string }[] = [
  { from: "1732900000000_outbox_delivery", to: "1732900000000_consumer_inbox_and_outbox_fillfactor" },
];

/** Where the SQL migrations live next to this module (overridable for bundles). */
export function defaultMigrationsDir(): string {
  return fileURLToPath(new URL("./migrations", import.meta.url));
}

/** Where the ledger's SQL functions live (lib/ledger/sql), beside the store that calls them. */
export function defaultSqlFunctionsDir(): string {
  return fileURLToPath(new URL("../ledger/sql", import.meta.url));
}

export interface MigrateOptions {
  /** Where migrate connects: Postgres itself or a transaction-mode pooler in front of it. */
  databaseUrl: string;
  /** Migrations folder; default: lib/db/migrations. */
  dir?: string | undefined;
  /** CREATE OR REPLACE function files applied after the migrations; default: lib/ledger/sql. */
  functionsDir?: string | undefined;
  /** The role the functions log in as, whose defaults migrate sets; default: the role migrate connects as. */
  functionsRole?: string | undefined;
  /** The functions' statement bound (DB_STATEMENT_TIMEOUT_MS), made a default of functionsRole; default 5000. */
  statementTimeoutMs?: number | undefined;
  /** One lock wait's bound (MIGRATION_LOCK_TIMEOUT_MS); default: that setting's. */
  lockTimeoutMs?: number | undefined;
  /** Runs of the transaction before a lock conflict fails migrate (MIGRATION_LOCK_ATTEMPTS); default: that setting's. */
  lockAttempts?: number | undefined;
  log?: (message: string) => void;
}

export interface MigrateResult {
  /** Migrations applied by this call (empty when the schema was current). */
  applied: string[];
  /** Function files (re)applied by this call: all of them, every time. */
  functions: string[];
}

/**
 * migrate() as the environment configures it, built once (per container):
 * it connects where MIGRATION_DATABASE_SECRET_ARN / MIGRATION_DATABASE_URL
 * say (default: the functions' DATABASE_SECRET_ARN / DATABASE_URL), sets the
 * defaults of the role the functions log in as (DATABASE_*), and reads
 * MIGRATIONS_DIR, SQL_FUNCTIONS_DIR and DB_STATEMENT_TIMEOUT_MS (lib/config.ts).
 * Secrets are read at each call, as a rotation may have changed them.
 */
export function migrationFromEnv(
  env: Env,
  log?: (message: string) => void,
  secrets: SecretSource = new SecretsManagerSource(),
): () => Promise<MigrateResult> {
  const { dir, functionsDir, lockTimeoutMs, lockAttempts } = migrationsConfig(env);
  const functions = databaseConfig(env);
  const connection = migrationDatabaseConfig(env);
  return async () => {
    const functionsRole = await databaseUser(functions, secrets);
    return withDatabaseUrl(
      connection,
      (databaseUrl) =>
        migrate({
          databaseUrl,
          dir,
          functionsDir,
          functionsRole,
          statementTimeoutMs: functions.statementTimeoutMs,
          lockTimeoutMs,
          lockAttempts,
          ...(log ? { log } : {}),
        }),
      secrets,
    );
  };
}

/**
 * Brings a database to the code's schema, all or nothing, in ONE transaction:
 * the recorded names of renamed migrations, the pending migrations
 * (node-pg-migrate, plain SQL), every SQL function file in file-name order,
 * and the functions' role defaults (lib/db/role-settings.ts).
 *
 * Serialised by a transaction-scoped advisory lock, not node-pg-migrate's
 * session lock: through a transaction-mode pooler (PgBouncer, RDS Proxy) a
 * session lock stays on whichever server connection took it, its unlock may
 * run on another, and the lock then outlives the run. A transaction keeps one
 * server connection from BEGIN to COMMIT, so this works the same directly and
 * through a pooler, and a second deploy waits for the first. The lock key is
 * node-pg-migrate's own, so a migrate of an older release (session lock) and
 * this one also exclude each other.
 *
 * Migrate's own statements are not bound by the functions' statement timeout
 * (SET LOCAL, for this transaction only): DDL on a large table takes long.
 * Its lock waits are (lock_timeout, after the advisory lock): a migration
 * waiting for a table lock holds up every later call on that table, so it
 * gives up soon, rolls back and tries again after a pause, and a deadlock
 * with a call (a migration may lock tables in another order than a call
 * does) aborts the migration, which tries again, rather than the call.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const defaults = migrationsConfig({});
  const lockTimeoutMs = options.lockTimeoutMs ?? defaults.lockTimeoutMs;
  const attempts = options.lockAttempts ?? defaults.lockAttempts;
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(options, lockTimeoutMs, log);
    } catch (error) {
      if (!isLockConflict(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      if (attempt >= attempts) {
        throw new Error(
          `migrate could not take its locks in ${attempts} attempt(s) of at most ${lockTimeoutMs} ms each ` +
            `(${reason}); nothing was changed: retry when the transaction holding them has ended`,
          { cause: error },
        );
      }
      const pauseMs = lockRetryPauseMs(attempt);
      log(
        `migrate gave way to a lock holder (${reason}); attempt ${attempt + 1} of ${attempts} in ${pauseMs} ms`,
      );
      await sleep(pauseMs);
    }
  }
}

/** 0.25 s doubling to at most 8 s, each between half and all of it, so two waiting deploys do not retry in step. */
const LOCK_RETRY_BACKOFF = { baseMs: 250, maxMs: 8000 };

export function lockRetryPauseMs(attempt: number, random: () => number = Math.random): number {
  return backoffDelayMs(attempt, LOCK_RETRY_BACKOFF, random);
}

async function migrateOnce(
  options: MigrateOptions,
  lockTimeoutMs: number,
  log: (message: string) => void,
): Promise<MigrateResult> {
  const client = await connectClient(options.databaseUrl);
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [String(PG_MIGRATE_LOCK_ID)]);
    await client.query("SET LOCAL statement_timeout = 0");
    await client.query("SELECT set_config('lock_timeout', $1, true)", [`${lockTimeoutMs}ms`]);
    await recordRenamedMigrations(client, log);
    const applied = await runner({
      dbClient: insideTransaction(client),
      dir: options.dir ?? defaultMigrationsDir(),
      direction: "up",
      migrationsTable: MIGRATIONS_TABLE,
      checkOrder: true,
      // The lock is ours (above); node-pg-migrate's would be a session lock.
      noLock: true,
      singleTransaction: true,
      log,
    });
    const functions = await applySqlFunctions(client, options.functionsDir ?? defaultSqlFunctionsDir(), log);
    const role = options.functionsRole ?? (await currentUser(client));
    await applyRoleSettings(client, role, {
      statementTimeoutMs: options.statementTimeoutMs ?? databaseConfig({}).statementTimeoutMs,
    });
    await client.query("COMMIT");
    return { applied: applied.map((m) => m.name), functions };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end().catch(() => {});
  }
}

// node-pg-migrate's own transaction control, with singleTransaction: the
// transaction is migrate()'s, so these do nothing. Its "COMMIT;" + "BEGIN;"
// (a migration that cannot run in a transaction) are refused: they would end
// the transaction and the lock with it.
const RUNNER_TRANSACTION_CONTROL = new Set(["BEGIN", "COMMIT", "ROLLBACK"]);
const BREAKS_THE_TRANSACTION = new Set(["BEGIN;", "COMMIT;"]);

/** The client as node-pg-migrate sees it: already inside migrate()'s transaction. */
function insideTransaction(client: pg.Client): pg.Client {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== "query") return Reflect.get(target, property, receiver);
      return (text: unknown, values?: unknown[]) => {
        if (typeof text === "string" && RUNNER_TRANSACTION_CONTROL.has(text)) {
          return Promise.resolve({ rows: [], rowCount: null, command: text, fields: [], oid: 0 });
        }
        if (typeof text === "string" && BREAKS_THE_TRANSACTION.has(text)) {
          return Promise.reject(
            new Error(
              "a migration that cannot run inside a transaction is not supported: migrate is one transaction",
            ),
          );
        }
        return target.query(text as string, values);
      };
    },
  });
}

async function currentUser(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ user: string }>("SELECT current_user AS user");
  return rows[0]?.user ?? "";
}

/** Rewrites the recorded names of RENAMED_MIGRATIONS; does nothing before the first migrate. */
async function recordRenamedMigrations(client: pg.ClientBase, log: (message: string) => void): Promise<void> {
  const { rows } = await client.query<{ table: string | null }>("SELECT to_regclass($1)::text AS table", [
    MIGRATIONS_TABLE,
  ]);
  if (!rows[0]?.table) return;
  for (const { from, to } of RENAMED_MIGRATIONS) {
    const { rowCount } = await client.query(`UPDATE ${MIGRATIONS_TABLE} SET name = $2 WHERE name = $1`, [
      from,
      to,
    ]);
    if (rowCount) log(`recorded migration ${from} renamed to ${to}`);
  }
}

/**
 * Applies every `.sql` file of a folder. The files are idempotent (CREATE OR
 * REPLACE), so this runs on every migrate: a changed function ships as an edit
 * of its file.
 */
async function applySqlFunctions(
  client: pg.ClientBase,
  dir: string,
  log: (message: string) => void,
): Promise<string[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith(".sql")).sort();
  if (files.length === 0) throw new Error(`no SQL function files in ${dir}`);
  for (const file of files) {
    log(`applying ${file}`);
    await client.query(await readFile(join(dir, file), "utf8"));
  }
  return files;
}
