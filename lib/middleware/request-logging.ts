import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

/**
 * Structured JSON logs carry the Lambda context (Powertools) plus the API
 * Gateway request id and path, so one client call can be followed across
 * log lines; keys are reset after each invocation.
 */
export function requestLogging(logger: Logger): MiddlewareObj<APIGatewayProxyEventV2>[] {
  return [
    injectLambdaContext(logger, { resetKeys: true }) as MiddlewareObj<APIGatewayProxyEventV2>,
    {
      name: "request-keys",
      before: (request) => {
        logger.appendKeys({
          requestId: request.event.requestContext?.requestId,
          path: request.event.rawPath,
        });
      },
    },
  ];
}
