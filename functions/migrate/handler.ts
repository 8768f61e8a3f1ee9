/**
 * Applies pending migrations. Not wired to any event: the deploy script
 * invokes it once after `serverless deploy` (`serverless invoke -f migrate`),
 * so the schema moves with the code that needs it.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { databaseConfig, migrationsConfig } from "../../lib/config.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { withDatabaseUrl } from "../../lib/db/pool.ts";

const logger = new Logger({ serviceName: "payment-ledger" });

export async function handler(): Promise<{ applied: string[] }> {
  const applied = await withDatabaseUrl(databaseConfig(), (databaseUrl) =>
    migrate({ databaseUrl, dir: migrationsConfig().dir, log: (message) => logger.debug(message) }),
  );
  logger.info("migrations applied", { applied });
  return { applied };
}
