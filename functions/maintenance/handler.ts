import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { retentionJobFromEnv } from "../../lib/maintenance/dependencies.ts";

const logger = new Logger({ serviceName: "payment-ledger", persistentKeys: { function: "maintenance" } });
// Module scope: one pool per container.
const retention = retentionJobFromEnv(process.env, logger);

/** Schedule -> delete, in bounded batches, what the retention settings no longer keep. */
export const handler = middy(async () => retention.run()).use(injectLambdaContext(logger));
