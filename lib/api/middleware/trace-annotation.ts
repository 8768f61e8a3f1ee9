import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { type LambdaTracing, W3C_TRACE_ANNOTATION } from "../../observability/lambda-tracing.ts";
import { parseTraceparent, TRACEPARENT_HEADER } from "../../observability/trace-context.ts";

/**
 * X-Ray on: a call that brings its own traceparent continues the caller's
 * trace, while Lambda has already put the invocation in a trace of its own.
 * The annotation ties the two: the api's subsegment is found in X-Ray by
 * the payment's W3C trace id. Runs after the tracing middleware opened it.
 */
export function traceAnnotation(
  tracing: LambdaTracing,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    name: "traceAnnotation",
    before: (request) => {
      const client = parseTraceparent(request.event.headers?.[TRACEPARENT_HEADER]);
      if (client) tracing.annotate(W3C_TRACE_ANNOTATION, client.traceId);
    },
  };
}
