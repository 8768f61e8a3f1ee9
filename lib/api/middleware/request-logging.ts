import { LOGGER_KEY } from "@aws-lambda-powertools/commons";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

/**
 * Structured JSON logs carry the Lambda context (Powertools) plus the API
 * Gateway request id and path, so one client call can be followed across
 * log lines; keys are reset after each invocation (appendKeys skips an
 * undefined value, so without the reset a stale id could carry over).
 * A middleware that answers early (the CORS preflight) skips the `after`
 * phase, so the reset is also registered where Powertools' own middlewares
 * register theirs (request.internal under its logger key); early returners
 * call cleanupMiddlewares(request) from @aws-lambda-powertools/commons.
 *
 * These are the Powertools calls its injectLambdaContext middleware makes,
 * without that middleware's per-call extras (event logging, debug-sampling
 * refresh, log-buffer upkeep): this service configures none of them, and
 * they cost as much again as the request logging itself.
 */
export function requestLogging(logger: Logger): MiddlewareObj<APIGatewayProxyEventV2> {
  const reset = () => logger.resetKeys();
  return {
    name: "request-logging",
    before: (request) => {
      (request.internal as Record<string, unknown>)[LOGGER_KEY] = reset;
      logger.addContext(request.context);
      logger.appendKeys({
        requestId: request.event.requestContext?.requestId,
        path: request.event.rawPath,
      });
    },
    after: reset,
    onError: reset,
  };
}
