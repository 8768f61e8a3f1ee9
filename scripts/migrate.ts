/**
 * Applies pending migrations, the ledger's SQL functions and the functions'
 * role defaults (MIGRATION_DATABASE_URL, else DATABASE_URL; MIGRATIONS_DIR,
 * SQL_FUNCTIONS_DIR, DB_STATEMENT_TIMEOUT_MS as for the Lambda): `npm run migrate`.
 * node-pg-migrate's own lines (each statement) only with --verbose.
 */
import { migrationFromEnv } from "../lib/db/migrate.ts";
import { runCli } from "./support/cli.ts";

await runCli("migrate", ["postgres"], async () => {
  const verbose = process.argv.includes("--verbose");
  const migrate = migrationFromEnv(process.env, verbose ? (message) => console.error(message) : () => {});
  const { applied, functions } = await migrate();
  console.log(applied.length === 0 ? "migrate: up to date" : `migrate: applied ${applied.join(", ")}`);
  console.log(`migrate: SQL functions ${functions.join(", ")}`);
});
