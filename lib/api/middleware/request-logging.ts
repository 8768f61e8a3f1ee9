import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

/**
 * Structured JSON logs carry the Lambda context plus the API Gateway request
 * id and path, so one client call can be followed across log lines. None of
 * a call's keys outlives it (appendKeys skips an undefined value, so a stale
 * id could otherwise carry over into the next call).
 *
 * Powertools' injectLambdaContext does the context and, with resetKeys, drops
 * every key appended during the call (these, and the trace ids of
 * trace-context.ts) after it, on error, and when a later middleware answers
 * early: it leaves its cleanup for cleanupMiddlewares from
 * @aws-lambda-powertools/commons, which such a middleware calls (cors.ts).
 * logEvent is off whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event holds
 * the caller's bearer token.
 */
export function requestLogging(logger: Logger): MiddlewareObj<APIGatewayProxyEventV2>[] {
  return [
    injectLambdaContext(logger, {
      resetKeys: true,
      logEvent: false,
    }) as MiddlewareObj<APIGatewayProxyEventV2>,
    {
      name: "request-ids",
      before: (request) => {
        logger.appendKeys({
          requestId: request.event.requestContext?.requestId,
          path: request.event.rawPath,
        });
      },
    },
  ];
}
