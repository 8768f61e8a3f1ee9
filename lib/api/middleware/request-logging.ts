import { LOGGER_KEY } from "@aws-lambda-powertools/commons";
import { type Logger, LogLevelThreshold } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

/**
 * Structured JSON logs carry the Lambda context plus the API Gateway request
 * id and path, so one client call can be followed across log lines. None of
 * a call's keys outlives it (appendKeys skips an undefined value, so a stale
 * id could otherwise carry over into the next call).
 *
 * This is what Powertools' injectLambdaContext does with resetKeys, in one
 * middleware and one appendKeys per call (it runs on every call): the
 * per-invocation debug sampling (POWERTOOLS_LOGGER_SAMPLE_RATE), the Lambda
 * context keys, and a reset of every key appended during the call (these, and
 * the trace ids of call-trace.ts) after it, on error, and when a later
 * middleware answers early. For that last case it leaves its cleanup where
 * Powertools' own middlewares do, for cleanupMiddlewares from
 * @aws-lambda-powertools/commons, which such a middleware calls (cors.ts).
 * The event is never logged, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it
 * holds the caller's bearer token.
 *
 * A logger that prints nothing for this invocation (SILENT, after the
 * sampling decision) gets no keys to reset: nobody would read them, and the
 * context and the reset cost a few microseconds on every call.
 */
export function requestLogging(logger: Logger): MiddlewareObj<APIGatewayProxyEventV2> {
  const cleanup = () => {
    logger.clearBuffer();
    logger.resetKeys();
  };
  // The call's keys were added exactly when its cleanup was left in `internal`.
  const cleanupIfKeyed = (request: { internal: unknown }) => {
    if ((request.internal as Record<string, unknown>)[LOGGER_KEY] === cleanup) cleanup();
  };
  return {
    name: "request-logging",
    before: (request) => {
      logger.refreshSampleRateCalculation();
      if (logger.level >= LogLevelThreshold.SILENT) return;
      (request.internal as Record<string, unknown>)[LOGGER_KEY] = cleanup;
      logger.addContext(request.context);
      logger.appendKeys({
        requestId: request.event.requestContext?.requestId,
        path: request.event.rawPath,
      });
    },
    after: cleanupIfKeyed,
    onError: cleanupIfKeyed,
  };
}
