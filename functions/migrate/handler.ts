/**
 * Applies pending migrations. Not wired to any event: the deploy script
 * invokes it once after `serverless deploy` (`serverless invoke -f migrate`),
 * so the schema moves with the code that needs it.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { databaseConfig, migrationsConfig } from "../../lib/config.ts";
import { type MigrateResult, migrate } from "../../lib/db/migrate.ts";

const logger = new Logger({ serviceName: "payment-ledger" });

export async function handler(): Promise<MigrateResult> {
  const { dir, functionsDir } = migrationsConfig();
  const result = await migrate({
    databaseUrl: databaseConfig().url,
    dir,
    functionsDir,
    log: (message) => logger.debug(message),
  });
  logger.info("migrations applied", { ...result });
  return result;
}
