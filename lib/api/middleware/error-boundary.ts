import { Code, ConnectError } from "@connectrpc/connect";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { type Log, loggable } from "../../logging.ts";
import { INTERNAL_MESSAGE, lambdaResultFrom, trailersOnly, wireFormatOf } from "../../rpc/index.ts";

/**
 * The last line: anything that escapes the handler becomes a well-formed
 * gRPC-web INTERNAL with no detail, logged here with its stack. Running out
 * of Lambda time (middy's early timeout) is DEADLINE_EXCEEDED, not a bug.
 */
export function errorBoundary(
  logger: Log,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    name: "error-boundary",
    onError: (request) => {
      const timedOut = request.error instanceof Error && request.error.name === "TimeoutError";
      const error = timedOut
        ? new ConnectError("the server ran out of time for this call", Code.DeadlineExceeded)
        : new ConnectError(INTERNAL_MESSAGE, Code.Internal);
      if (!timedOut) logger.error("unhandled error", { error: loggable(request.error) });
      const format = wireFormatOf(request.event.headers?.["content-type"]);
      request.response = lambdaResultFrom(trailersOnly(format, error));
    },
  };
}
