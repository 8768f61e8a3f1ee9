/**
 * The mapping between W3C Trace Context and AWS X-Ray ids, so a payment's
 * traceparent and its X-Ray trace are the same trace. An X-Ray trace id is
 * the W3C trace id split after its eighth hex digit (`1-` + 8 + `-` + 24); a
 * segment id is a W3C span id as it is. Pure: no SDK is loaded here.
 */
import type { Env } from "../config.ts";
import { continueOrStart, newTrace, type TraceContext } from "./trace-context.ts";

const W3C_TRACE_ID = /^[0-9a-f]{32}$/;
const XRAY_TRACE_ID = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/;
const SEGMENT_ID = /^[0-9a-f]{16}$/;
const ALL_ZERO = /^[0-]+$/;

/** `4bf92f35…` (32 hex) → `1-4bf92f35-77b3…` (X-Ray); undefined when it is not a W3C trace id. */
export function xrayTraceId(w3cTraceId: string): string | undefined {
  if (!W3C_TRACE_ID.test(w3cTraceId) || ALL_ZERO.test(w3cTraceId)) return undefined;
  return `1-${w3cTraceId.slice(0, 8)}-${w3cTraceId.slice(8)}`;
}

/** `1-4bf92f35-77b3…` → `4bf92f3577b3…`; undefined when it is not an X-Ray trace id. */
export function w3cTraceId(xrayId: string): string | undefined {
  const match = XRAY_TRACE_ID.exec(xrayId.toLowerCase());
  if (!match || ALL_ZERO.test(xrayId.slice(2))) return undefined;
  return `${match[1]}${match[2]}`;
}

export interface XRayTraceHeader {
  root: string;
  parent: string | undefined;
  /** "1" sampled, "0" not, "?" not decided yet; undefined when absent. */
  sampled: string | undefined;
}

/**
 * Parses an X-Ray trace header, as Lambda sets it in `_X_AMZN_TRACE_ID` for
 * each invocation: `Root=1-…;Parent=…;Sampled=1` (more fields, such as
 * Lineage, may follow and are ignored). Undefined without a valid Root.
 */
export function parseXRayTraceHeader(header: string | null | undefined): XRayTraceHeader | undefined {
  if (!header) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0) fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  const root = fields.get("root")?.toLowerCase();
  if (!root || w3cTraceId(root) === undefined) return undefined;
  const parent = fields.get("parent")?.toLowerCase();
  return {
    root,
    parent: parent && SEGMENT_ID.test(parent) && !ALL_ZERO.test(parent) ? parent : undefined,
    sampled: fields.get("sampled"),
  };
}

/**
 * The W3C context of the Lambda invocation X-Ray traces: its trace id is the
 * X-Ray trace's, its span the function's segment (the header's Parent), so
 * whatever continues it (the outbox event, the drain's segments) lands in
 * that trace, under the api. Sampled only when X-Ray sampled the invocation.
 * Undefined when the header lacks a Root or a Parent (tracing off, or not on Lambda).
 */
export function traceContextFromXRay(header: string | null | undefined): TraceContext | undefined {
  const parsed = parseXRayTraceHeader(header);
  const traceId = parsed && w3cTraceId(parsed.root);
  if (!parsed?.parent || !traceId) return undefined;
  return { traceId, spanId: parsed.parent, flags: parsed.sampled === "1" ? "01" : "00" };
}

/**
 * The invocation's X-Ray trace header: from the runtime's per-invocation
 * store when invocations share a sandbox (Lambda Managed Instances), else
 * `_X_AMZN_TRACE_ID`, which Lambda sets for each invocation.
 */
export function currentXRayTraceHeader(env: Env = process.env): string | undefined {
  const runtime = globalThis as { awslambda?: { InvokeStore?: { getXRayTraceId(): string | undefined } } };
  return runtime.awslambda?.InvokeStore?.getXRayTraceId() ?? env._X_AMZN_TRACE_ID;
}

/**
 * The api's trace context with X-Ray on: a client's traceparent is
 * continued (its trace is the payment's; the api's X-Ray segment is only
 * annotated with it); without one the payment's trace is the invocation's
 * X-Ray trace; outside X-Ray, a new trace. Pass the X-Ray header only when
 * tracing is on (XRAY_TRACING_ENABLED): Lambda passes one, unsampled, even
 * to untraced functions, and LocalStack may too.
 */
export function continueOrStartFromXRay(
  traceparent: string | null | undefined,
  xrayHeader: string | null | undefined,
): TraceContext {
  return continueOrStart(traceparent, () => traceContextFromXRay(xrayHeader) ?? newTrace());
}

/** Whether a W3C context asks to be recorded (flags bit 0). */
export function isSampled(context: TraceContext): boolean {
  return (Number.parseInt(context.flags, 16) & 1) === 1;
}

/** continueOrStartFromXRay in the current invocation's X-Ray trace: the api's trace start when tracing is on. */
export function continueOrStartInXRay(traceparent: string | null | undefined): TraceContext {
  return continueOrStartFromXRay(traceparent, currentXRayTraceHeader());
}
