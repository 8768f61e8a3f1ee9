/**
 * Applies pending migrations. Not wired to any event: the deploy script
 * invokes it once after `serverless deploy` (`serverless invoke -f migrate`),
 * so the schema moves with the code that needs it.
 */
import "../../lib/observability/source-mapped-stacks.ts";
import { databaseConfig } from "../../lib/config.ts";
import { type MigrateResult, migrate, migrateOptionsFromEnv } from "../../lib/db/migrate.ts";
import { withDatabaseUrl } from "../../lib/db/pool.ts";
import { createLogger } from "../../lib/logging.ts";

// Module scope: settings and logger once per container.
const logger = createLogger({ function: "migrate", env: process.env });
const options = migrateOptionsFromEnv(process.env, (message) => logger.debug(message));
const database = databaseConfig(process.env);

export async function handler(): Promise<MigrateResult> {
  // In dev/prod the URL comes from Secrets Manager, refetched once if Postgres refuses it.
  const result = await withDatabaseUrl(database, (databaseUrl) => migrate({ ...options, databaseUrl }));
  logger.info("migrations applied", { ...result });
  return result;
}
