import { type Logger, LogLevelThreshold } from "@aws-lambda-powertools/logger";
import { type ContextValues, createContextKey, createContextValues } from "@connectrpc/connect";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { continueOrStart, TRACEPARENT_HEADER, type TraceContext } from "../observability/trace-context.ts";

const traceKey = createContextKey<TraceContext | undefined>(undefined, { description: "trace context" });

/**
 * Every call is a span of a W3C trace: a child of the caller's `traceparent`,
 * or the root of a new trace when it sent none (or a malformed one). Decided
 * once per call, before the gateway runs: its ids go into the log context
 * (reset by the request-logging middleware) and the span into the call's
 * context values, where the implementation reads it (and stores it with the
 * outbox event, naming this call as the parent of what follows). The
 * request's own header is left as the client sent it.
 *
 * `start` decides the context; the default is W3C only (an X-Ray-aware start
 * can be passed in where the runtime has one).
 */
export function callTrace(
  logger: Logger,
  start: (header: string | undefined) => TraceContext = continueOrStart,
): (event: APIGatewayProxyEventV2) => ContextValues {
  return (event) => {
    const trace = start(event.headers?.[TRACEPARENT_HEADER]);
    // A silenced logger prints no line to carry them (request-logging.ts).
    if (logger.level < LogLevelThreshold.SILENT)
      logger.appendKeys({ traceId: trace.traceId, spanId: trace.spanId });
    return createContextValues().set(traceKey, trace);
  };
}

/** The call's span, if its trace was decided (callTrace). */
export function traceOf(values: ContextValues): TraceContext | undefined {
  return values.get(traceKey);
}
