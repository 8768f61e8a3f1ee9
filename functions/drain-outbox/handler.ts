import "../../lib/observability/source-mapped-stacks.ts";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { observabilityConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logging.ts";
import { EmfMetrics } from "../../lib/observability/metrics.ts";
import { publishTracerFromEnv } from "../../lib/observability/xray-publish-tracer.ts";
import { outboxDrainFromEnv } from "../../lib/outbox/dependencies.ts";
import { recordDrainRun } from "../../lib/outbox/metrics.ts";
import { isNudge } from "../../lib/outbox/nudge.ts";

const logger = createLogger({ function: "drainOutbox", env: process.env });
const metrics = new EmfMetrics({ ...observabilityConfig(process.env), functionName: "drainOutbox" });
// Module scope: one pool, one producer, one Lambda client per container.
// X-Ray only when XRAY_TRACING_ENABLED: otherwise nothing of it is loaded.
const drain = outboxDrainFromEnv(process.env, logger, await publishTracerFromEnv(process.env, logger));

/**
 * Schedule (or nudge) -> drain until nothing is due or the time budget runs
 * out (a nudged run keeps looking a little longer); returns the summary.
 */
export const handler = middy(async (event: unknown, context: Context) => {
  const summary = await drain.run({
    remainingMs: () => context.getRemainingTimeInMillis(),
    linger: isNudge(event),
  });
  recordDrainRun(metrics, summary);
  return summary;
}).use(injectLambdaContext(logger));
