import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { deadLetterService } from "../../lib/outbox/runtime.ts";

const logger = new Logger({ serviceName: "payment-ledger", persistentKeys: { function: "deadLetter" } });

/**
 * Async invoke from drainOutbox with a dead-letter envelope. Throwing (Kafka
 * down) makes Lambda retry later; the record is already stored.
 */
export const handler = middy(async (event: unknown) => deadLetterService(logger).handle(event)).use(
  injectLambdaContext(logger),
);
