import "../../lib/observability/source-mapped-stacks.ts";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { observabilityConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logging.ts";
import { maintenanceFromEnv } from "../../lib/maintenance/dependencies.ts";
import { recordRetentionRun } from "../../lib/maintenance/metrics.ts";
import { EmfMetrics } from "../../lib/observability/metrics.ts";

const logger = createLogger({ function: "maintenance", env: process.env });
const metrics = new EmfMetrics({ ...observabilityConfig(process.env), functionName: "maintenance" });
// Module scope: one pool per container.
const { holds, retention } = maintenanceFromEnv(process.env, logger);

/**
 * Schedule (every minute) -> release the holds past their expiry (their payers
 * wait for the funds: first), then delete what the retention settings no
 * longer keep, until caught up or out of time.
 */
export const handler = middy(async (_event: unknown, context: Context) => {
  const expired = await holds.run();
  const summary = await retention.run({ remainingMs: () => context.getRemainingTimeInMillis() });
  recordRetentionRun(metrics, summary);
  return { ...summary, holds: expired };
}).use(injectLambdaContext(logger));
