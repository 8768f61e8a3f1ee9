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
    doc: "Postgres (prod: the RDS Proxy endpoint, sslmode=require); ignored when DATABASE_SECRET_ARN is set.",
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
    doc: "no statement runs longer.",
    readBy: READ_BY,
  }),
  connectTimeoutMs: declare("DB_CONNECT_TIMEOUT_MS", integer(0), {
    default: 3000,
    doc: "fail fast (UNAVAILABLE) when Postgres is down.",
    readBy: READ_BY,
  }),
};

export type DatabaseConfig = ConfigOf<typeof DATABASE>;
export function databaseConfig(env: Env): DatabaseConfig {
  return readAll(env, DATABASE);
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
};

export type MigrationsConfig = ConfigOf<typeof MIGRATIONS>;
export function migrationsConfig(env: Env): MigrationsConfig {
  return readAll(env, MIGRATIONS);
}
