import "../../lib/observability/source-mapped-stacks.ts";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { createLogger } from "../../lib/logging.ts";
import { maintenanceFromEnv } from "../../lib/maintenance/dependencies.ts";
import { jobsOf, runMaintenance } from "../../lib/maintenance/jobs.ts";

const logger = createLogger({ function: "maintenance" });
// Module scope: one pool per container.
const jobs = maintenanceFromEnv(process.env, logger);

/**
 * Schedule -> expire due holds (every minute) and delete, in bounded batches,
 * what the retention settings no longer keep (every hour).
 */
export const handler = middy(async (event: unknown) => runMaintenance(jobsOf(event), jobs)).use(
  injectLambdaContext(logger),
);
