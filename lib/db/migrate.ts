import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runner } from "node-pg-migrate";
import pg from "pg";
import { databaseConfig, type Env, migrationsConfig } from "../config.ts";

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

// Taken by applySqlFunctions only; node-pg-migrate holds its own lock while
// migrating, and the functions are applied after it is released.
const SQL_FUNCTIONS_LOCK_KEY = 7_320_001;

/** Where the SQL migrations live next to this module (overridable for bundles). */
export function defaultMigrationsDir(): string {
  return fileURLToPath(new URL("./migrations", import.meta.url));
}

/** Where the ledger's SQL functions live (lib/ledger/sql), beside the store that calls them. */
export function defaultSqlFunctionsDir(): string {
  return fileURLToPath(new URL("../ledger/sql", import.meta.url));
}

export interface MigrateOptions {
  databaseUrl: string;
  /** Migrations folder; default: lib/db/migrations. */
  dir?: string | undefined;
  /** CREATE OR REPLACE function files applied after the migrations; default: lib/ledger/sql. */
  functionsDir?: string | undefined;
  log?: (message: string) => void;
}

export interface MigrateResult {
  /** Migrations applied by this call (empty when the schema was current). */
  applied: string[];
  /** Function files (re)applied by this call: all of them, every time. */
  functions: string[];
}

/** The database and folders from the environment (DATABASE_URL, MIGRATIONS_DIR, SQL_FUNCTIONS_DIR; lib/config.ts). */
export function migrateOptionsFromEnv(env: Env, log?: (message: string) => void): MigrateOptions {
  const { dir, functionsDir } = migrationsConfig(env);
  return { databaseUrl: databaseConfig(env).url, dir, functionsDir, ...(log ? { log } : {}) };
}

/**
 * Brings a database to the code's schema: pending migrations first
 * (node-pg-migrate, plain SQL, under its advisory lock, so concurrent callers
 * apply each once), then every SQL function file, in file-name order.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  await recordRenamedMigrations(options.databaseUrl, log);
  const applied = await runner({
    databaseUrl: options.databaseUrl,
    dir: options.dir ?? defaultMigrationsDir(),
    direction: "up",
    migrationsTable: MIGRATIONS_TABLE,
    checkOrder: true,
    // A second deploy (or Lambda) waits for the first instead of failing.
    advisoryLockMode: "wait",
    log,
  });
  const functions = await applySqlFunctions(
    options.databaseUrl,
    options.functionsDir ?? defaultSqlFunctionsDir(),
    log,
  );
  return { applied: applied.map((m) => m.name), functions };
}

/** Rewrites the recorded names of RENAMED_MIGRATIONS; does nothing before the first migrate. */
export async function recordRenamedMigrations(
  databaseUrl: string,
  log: (message: string) => void = () => {},
): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
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
  } finally {
    await client.end();
  }
}

/**
 * Applies every `.sql` file of a folder in one transaction. The files are
 * idempotent (CREATE OR REPLACE), so this runs on every migrate: a changed
 * function ships as an edit of its file. Serialised by an advisory lock so
 * two deploys never interleave their DROP/CREATE pairs.
 */
export async function applySqlFunctions(
  databaseUrl: string,
  dir: string,
  log: (message: string) => void = () => {},
): Promise<string[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith(".sql")).sort();
  if (files.length === 0) throw new Error(`no SQL function files in ${dir}`);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [SQL_FUNCTIONS_LOCK_KEY]);
    for (const file of files) {
      log(`applying ${file}`);
      await client.query(await readFile(join(dir, file), "utf8"));
    }
    await client.query("COMMIT");
    return files;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
