/**
 * Applies pending migrations. Not wired to any event: the deploy script
 * invokes it once after `serverless deploy` (`serverless invoke -f migrate`),
 * so the schema moves with the code that needs it.
 */
import { type MigrateResult, migrate, migrateOptionsFromEnv } from "../../lib/db/migrate.ts";
import { createLogger } from "../../lib/logging.ts";

// Module scope: settings and logger once per container.
const logger = createLogger({ function: "migrate" });
const options = migrateOptionsFromEnv(process.env, (message) => logger.debug(message));

export async function handler(): Promise<MigrateResult> {
  const result = await migrate(options);
  logger.info("migrations applied", { ...result });
  return result;
}
