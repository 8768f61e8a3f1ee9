/** Applies pending migrations and the ledger's SQL functions to DATABASE_URL: `npm run migrate`. */
import { databaseConfig } from "../lib/config.ts";
import { migrate } from "../lib/db/migrate.ts";
import { runCli } from "./support/cli.ts";

await runCli("migrate", ["postgres"], async () => {
  const { url } = databaseConfig();
  // node-pg-migrate's own lines (each SQL statement) only with --verbose.
  const verbose = process.argv.includes("--verbose");
  const { applied, functions } = await migrate({
    databaseUrl: url,
    log: verbose ? (message) => console.error(message) : () => {},
  });
  console.log(applied.length === 0 ? "migrate: up to date" : `migrate: applied ${applied.join(", ")}`);
  console.log(`migrate: SQL functions ${functions.join(", ")}`);
});
