import "../../lib/observability/source-mapped-stacks.ts";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { observabilityConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logging.ts";
import { retentionJobFromEnv } from "../../lib/maintenance/dependencies.ts";
import { recordRetentionRun } from "../../lib/maintenance/metrics.ts";
import { EmfMetrics } from "../../lib/observability/metrics.ts";

const logger = createLogger({ function: "maintenance", env: process.env });
const metrics = new EmfMetrics({ ...observabilityConfig(process.env), functionName: "maintenance" });
// Module scope: one pool per container.
const retention = retentionJobFromEnv(process.env, logger);

/** Schedule -> delete what the retention settings no longer keep, until caught up or out of time. */
export const handler = middy(async (_event: unknown, context: Context) => {
  const summary = await retention.run({ remainingMs: () => context.getRemainingTimeInMillis() });
  recordRetentionRun(metrics, summary);
  return summary;
}).use(injectLambdaContext(logger));
