/**
 * Applies pending migrations and the ledger's SQL functions to DATABASE_URL
 * (MIGRATIONS_DIR, SQL_FUNCTIONS_DIR as for the Lambda): `npm run migrate`.
 * node-pg-migrate's own lines (each statement) only with --verbose.
 */
import { migrate, migrateOptionsFromEnv } from "../lib/db/migrate.ts";
import { runCli } from "./support/cli.ts";

await runCli("migrate", ["postgres"], async () => {
  const verbose = process.argv.includes("--verbose");
  const { applied, functions } = await migrate(
    migrateOptionsFromEnv(process.env, verbose ? (message) => console.error(message) : () => {}),
  );
  console.log(applied.length === 0 ? "migrate: up to date" : `migrate: applied ${applied.join(", ")}`);
  console.log(`migrate: SQL functions ${functions.join(", ")}`);
});
