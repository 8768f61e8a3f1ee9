import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { deadLetterServiceFromEnv } from "../../lib/dead-letters/dependencies.ts";
import { createLogger } from "../../lib/logging.ts";

const logger = createLogger({ function: "deadLetter" });
// Module scope: one pool and one producer per container.
const service = deadLetterServiceFromEnv(process.env, logger);

/**
 * Async invoke from drainOutbox with a dead-letter envelope. Throwing (Kafka
 * down) makes Lambda retry later; the record is already stored.
 */
export const handler = middy(async (event: unknown) => service.handle(event)).use(
  injectLambdaContext(logger),
);
