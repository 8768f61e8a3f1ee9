/**
 * Powertools Tracer for a Lambda handler, on the stages that turn X-Ray on
 * (XRAY_TRACING_ENABLED; serverless.ts sets it beside Lambda's active tracing
 * on dev and prod). Loaded with a dynamic import, and only then: with tracing
 * off, a cold start neither reads nor runs the tracer or aws-xray-sdk-core
 * (the bundles keep them in chunks of their own).
 *
 * The api records a `## handler` subsegment per invocation and, when the
 * caller sent a traceparent, its W3C trace id as an annotation (the payment's
 * trace is then the caller's, not the invocation's: search X-Ray for
 * `annotation.w3c_trace_id`).
 */
import type { MiddlewareObj } from "@middy/core";
import { type Env, observabilityConfig, tracingConfig } from "../config.ts";

/** The annotation (searchable in X-Ray) holding a payment's W3C trace id. */
export const W3C_TRACE_ANNOTATION = "w3c_trace_id";

/** What a Lambda handler needs from the tracer. */
export interface LambdaTracing {
  /** middy middleware: opens and closes the invocation's handler subsegment. */
  middleware: MiddlewareObj;
  /** Annotates the invocation's subsegment (call it inside the handler). */
  annotate(key: string, value: string): void;
}

/** Powertools Tracer for a Lambda handler; undefined (nothing loaded) when tracing is off. */
export async function lambdaTracingFromEnv(env: Env): Promise<LambdaTracing | undefined> {
  if (!tracingConfig(env).enabled) return undefined;
  const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
    import("@aws-lambda-powertools/tracer"),
    import("@aws-lambda-powertools/tracer/middleware"),
  ]);
  const tracer = new Tracer({ serviceName: observabilityConfig(env).serviceName });
  return {
    // Responses are gRPC-web frames with payment details: never copied into X-Ray.
    middleware: captureLambdaHandler(tracer, { captureResponse: false }) as MiddlewareObj,
    annotate: (key, value) => tracer.putAnnotation(key, value),
  };
}
