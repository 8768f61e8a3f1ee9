/**
 * Applies pending migrations. Not wired to any event: the deploy script
 * invokes it once after `serverless deploy` (`serverless invoke -f migrate`),
 * so the schema moves with the code that needs it.
 */
import "../../lib/observability/source-mapped-stacks.ts";
import { type MigrateResult, migrationFromEnv } from "../../lib/db/migrate.ts";
import { createLogger } from "../../lib/logging.ts";

// Module scope: settings and logger once per container.
const logger = createLogger({ function: "migrate", env: process.env });
// In dev/prod the connection comes from Secrets Manager (MIGRATION_DATABASE_SECRET_ARN, else
// DATABASE_SECRET_ARN), refetched once if Postgres refuses it.
const migrate = migrationFromEnv(process.env, (message) => logger.debug(message));

export async function handler(): Promise<MigrateResult> {
  const result = await migrate();
  logger.info("migrations applied", { ...result });
  return result;
}
