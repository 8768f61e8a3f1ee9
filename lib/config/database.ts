/** Postgres: where it is, how the pool behaves, and where the migrate function finds its SQL. */
import {
  type ConfigOf,
  declare,
  type Env,
  FUNCTION_NAMES,
  integer,
  type Reader,
  readAll,
  text,
} from "./declare.ts";
import { secretReference } from "./secrets.ts";

const READ_BY: readonly Reader[] = [...FUNCTION_NAMES, "scripts"];

export const DATABASE = {
  url: declare("DATABASE_URL", text({ example: "postgres://ledger:secret@db.example:5432/ledger" }), {
    default: "postgres://postgres:postgres@127.0.0.1:5432/ledger",
    doc:
      "Postgres as the functions reach it: a transaction-mode pooler in front of it (prod: the RDS Proxy " +
      "endpoint, sslmode=require; npm run dev: a local PgBouncer); ignored when DATABASE_SECRET_ARN is set.",
    readBy: READ_BY,
  }),
  secret: declare("DATABASE_SECRET_ARN", secretReference, {
    default: undefined,
    doc:
      "read the connection from this Secrets Manager secret at run time instead: RDS's JSON shape " +
      '({"username", "password", "host", "port", "dbname"}, as managed rotation writes it) or {"url": "postgres://…"}.',
    readBy: READ_BY,
  }),
  poolMax: declare("DB_POOL_MAX", integer(1, 1000), {
    default: 5,
    doc: "connections per container; a Lambda container serves one request at a time.",
    readBy: READ_BY,
  }),
  statementTimeoutMs: declare("DB_STATEMENT_TIMEOUT_MS", integer(0), {
    default: 5000,
    doc:
      "no statement of the functions runs longer. Not sent per connection (a transaction-mode pooler refuses " +
      "startup parameters, and RDS Proxy pins a session on SET): migrate makes it the default of the functions' " +
      "role in the ledger database (ALTER ROLE … IN DATABASE … SET statement_timeout), so every server " +
      "connection starts with it. A change takes effect at the next migrate, on connections opened after it; 0 removes it.",
    readBy: READ_BY,
  }),
  connectTimeoutMs: declare("DB_CONNECT_TIMEOUT_MS", integer(0), {
    default: 3000,
    doc: "fail fast (UNAVAILABLE) when Postgres is down.",
    readBy: READ_BY,
  }),
  idleTimeoutMs: declare("DB_IDLE_TIMEOUT_MS", integer(1000), {
    default: 30_000,
    doc:
      "a pooled connection idle this long is closed. Keep it well below the pooler's idle client timeout " +
      "(RDS Proxy's IdleClientTimeout, default 30 min), so the pool closes its connections before the pooler " +
      "does (docs/deploying.md).",
    readBy: READ_BY,
  }),
};

export type DatabaseConfig = ConfigOf<typeof DATABASE>;
export function databaseConfig(env: Env): DatabaseConfig {
  return readAll(env, DATABASE);
}

export const MIGRATION_DATABASE = {
  url: declare(
    "MIGRATION_DATABASE_URL",
    text({ example: "postgres://owner:secret@db.example:5432/ledger" }),
    {
      default: undefined,
      defaultText: "DATABASE_URL",
      doc:
        "where migrate connects. Migrate runs in one transaction under a transaction-scoped lock, so it works " +
        "through the pooler too; point this at Postgres itself to migrate as a role that owns the schema (the " +
        "functions' role need not), or to keep a long migration off the pooler. Ignored when " +
        "MIGRATION_DATABASE_SECRET_ARN is set.",
      readBy: ["migrate", "scripts"],
    },
  ),
  secret: declare("MIGRATION_DATABASE_SECRET_ARN", secretReference, {
    default: undefined,
    defaultText: "DATABASE_SECRET_ARN (when MIGRATION_DATABASE_URL is unset)",
    doc: "read migrate's connection from this secret instead (same shapes as DATABASE_SECRET_ARN).",
    readBy: ["migrate", "scripts"],
  }),
};

/** Where migrate connects: its own setting, else the functions' (DatabaseConfig). */
export interface MigrationDatabaseConfig {
  url: string;
  secret: ConfigOf<typeof DATABASE>["secret"];
}

export function migrationDatabaseConfig(env: Env): MigrationDatabaseConfig {
  const own = readAll(env, MIGRATION_DATABASE);
  const functions = databaseConfig(env);
  if (own.secret || own.url) return { url: own.url ?? functions.url, secret: own.secret };
  return { url: functions.url, secret: functions.secret };
}

export const MIGRATIONS = {
  dir: declare("MIGRATIONS_DIR", text(), {
    default: undefined,
    defaultText: "lib/db/migrations (beside lib/db/migrate.ts)",
    doc:
      "a relative path resolves against the working directory, which on Lambda is the package root; " +
      "the migrate bundle ships the SQL at lib/db/migrations.",
    readBy: ["migrate", "scripts"],
    setBy: "serverless.ts",
  }),
  functionsDir: declare("SQL_FUNCTIONS_DIR", text(), {
    default: undefined,
    defaultText: "lib/ledger/sql (beside the ledger store)",
    doc:
      "the ledger's CREATE OR REPLACE function files, applied after the migrations; " +
      "the migrate bundle ships them at lib/ledger/sql.",
    readBy: ["migrate", "scripts"],
    setBy: "serverless.ts",
  }),
  lockTimeoutMs: declare("MIGRATION_LOCK_TIMEOUT_MS", integer(1, 60_000), {
    default: 500,
    doc:
      "how long migrate waits for one table lock before it gives up, rolls back and tries again. While it waits, " +
      "every payment that touches the table queues behind it, so this bounds that stall. Keep it below the " +
      "server's deadlock_timeout (1 s by default, RDS included): a migration that locks tables in another order " +
      "than a call then gives way before Postgres picks the call as the deadlock's victim.",
    readBy: ["migrate", "scripts"],
  }),
  lockAttempts: declare("MIGRATION_LOCK_ATTEMPTS", integer(1, 100), {
    default: 8,
    doc:
      "how many times migrate runs its transaction when a lock wait gave up (above) or a deadlock aborted it, " +
      "with a growing pause between attempts (0.25 s doubling to at most 8 s, jittered); then it fails, naming " +
      "the lock it could not take, and the schema is as it was.",
    readBy: ["migrate", "scripts"],
  }),
};

export type MigrationsConfig = ConfigOf<typeof MIGRATIONS>;
export function migrationsConfig(env: Env): MigrationsConfig {
  return readAll(env, MIGRATIONS);
}
