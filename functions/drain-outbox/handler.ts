import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { createLogger } from "../../lib/logging.ts";
import { outboxDrainFromEnv } from "../../lib/outbox/dependencies.ts";

const logger = createLogger({ function: "drainOutbox" });
// Module scope: one pool, one producer, one Lambda client per container.
const drain = outboxDrainFromEnv(process.env, logger);

/** Schedule (or nudge) -> drain until nothing is due or the time budget runs out; returns the summary. */
export const handler = middy(async (_event: unknown, context: Context) =>
  drain.run({ remainingMs: () => context.getRemainingTimeInMillis() }),
).use(injectLambdaContext(logger));
