/** Applies pending migrations to DATABASE_URL (MIGRATIONS_DIR, SQL_FUNCTIONS_DIR as for the Lambda): `npm run migrate`. */
import { migrate, migrateOptionsFromEnv } from "../lib/db/migrate.ts";

const { applied, functions } = await migrate(
  migrateOptionsFromEnv(process.env, (message) => console.error(message)),
);
console.log(applied.length === 0 ? "migrate: up to date" : `migrate: applied ${applied.join(", ")}`);
console.log(`migrate: SQL functions ${functions.join(", ")}`);
