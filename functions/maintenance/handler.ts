import "../../lib/observability/source-mapped-stacks.ts";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { createLogger } from "../../lib/logging.ts";
import { retentionJobFromEnv } from "../../lib/maintenance/dependencies.ts";

const logger = createLogger({ function: "maintenance", env: process.env });
// Module scope: one pool per container.
const retention = retentionJobFromEnv(process.env, logger);

/** Schedule -> delete, in bounded batches, what the retention settings no longer keep. */
export const handler = middy(async () => retention.run()).use(injectLambdaContext(logger));
