import type { Logger } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import {
  continueOrStart,
  formatTraceparent,
  TRACEPARENT_HEADER,
  type TraceContext,
} from "../../observability/trace-context.ts";

/**
 * Every call is a span of a W3C trace: a child of the caller's `traceparent`,
 * or the root of a new trace when it sent none (or a malformed one). Its ids
 * go into the log context, and the request's traceparent header is replaced
 * by the api's own span, so what the implementation reads (and stores with
 * the outbox event) names this call as the parent of what follows. The log
 * keys are reset by the request-logging middleware, which runs first.
 *
 * `start` decides the context; the default is W3C only (an X-Ray-aware start
 * can be passed in where the runtime has one).
 */
export function traceContext(
  logger: Logger,
  start: (header: string | undefined) => TraceContext = continueOrStart,
): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    name: "trace-context",
    before: (request) => {
      const event = request.event;
      event.headers ??= {};
      const trace = start(event.headers[TRACEPARENT_HEADER]);
      event.headers[TRACEPARENT_HEADER] = formatTraceparent(trace);
      logger.appendKeys({ traceId: trace.traceId, spanId: trace.spanId });
    },
  };
}
