import "../../lib/observability/source-mapped-stacks.ts";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { observabilityConfig } from "../../lib/config.ts";
import { deadLetterServiceFromEnv } from "../../lib/dead-letters/dependencies.ts";
import { recordDeadLetter, recordDeadLetterFailure } from "../../lib/dead-letters/metrics.ts";
import { createLogger } from "../../lib/logging.ts";
import { EmfMetrics } from "../../lib/observability/metrics.ts";

const logger = createLogger({ function: "deadLetter", env: process.env });
const metrics = new EmfMetrics({ ...observabilityConfig(process.env), functionName: "deadLetter" });
// Module scope: one pool and one producer per container.
const service = deadLetterServiceFromEnv(process.env, logger);

/**
 * Async invoke from drainOutbox with a dead-letter envelope. Throwing (Kafka
 * down, the DLQ topic missing) makes Lambda retry later; the record is already stored.
 */
export const handler = middy(async (event: unknown) => {
  const outcome = await service.handle(event).catch((error: unknown) => {
    recordDeadLetterFailure(metrics, error);
    throw error;
  });
  recordDeadLetter(metrics, outcome);
  return outcome;
}).use(injectLambdaContext(logger));
