/** Applies pending migrations to DATABASE_URL: `npm run migrate`. */
import { databaseConfig } from "../lib/config.ts";
import { migrate } from "../lib/db/migrate.ts";

const { url } = databaseConfig();
const { applied, functions } = await migrate({ databaseUrl: url, log: (message) => console.error(message) });
console.log(applied.length === 0 ? "migrate: up to date" : `migrate: applied ${applied.join(", ")}`);
console.log(`migrate: SQL functions ${functions.join(", ")}`);
