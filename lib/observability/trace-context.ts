/**
 * W3C Trace Context (`traceparent`): accepted from the caller, or started
 * here, then carried through the log context, the outbox row and every Kafka
 * message so one payment is one trace from the gRPC-web call to the consumer.
 * Hand-written because it is one header format; the OpenTelemetry SDK would
 * cost the api's cold start several times what this does.
 */
import { randomFillSync } from "node:crypto";

/** The header's name, in requests and in Kafka messages. */
export const TRACEPARENT_HEADER = "traceparent";

export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero: the span this context's owner is in. */
  spanId: string;
  /** Two hex digits; bit 0 is "sampled". */
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Parses a traceparent header; undefined for anything the spec says to
 * ignore (unknown format, version ff, all-zero ids), so a bad header starts
 * a new trace instead of failing the call.
 */
export function parseTraceparent(header: string | null | undefined): TraceContext | undefined {
  if (!header) return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (version === "ff") return undefined;
  // Version 00 has exactly four fields; later versions may append more.
  if (version === "00" && rest !== undefined) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags };
}

export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.flags}`;
}

// Ids are drawn from a pooled random buffer: the drain starts a trace for
// every stored event without one, and a syscall per id would show there.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function nonZeroHex(bytes: number): string {
  for (;;) {
    if (poolOffset + bytes > pool.length) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const hex = pool.toString("hex", poolOffset, poolOffset + bytes);
    poolOffset += bytes;
    if (!/^0+$/.test(hex)) return hex;
  }
}

/** A new span in the same trace (the caller's span becomes its parent). */
export function childOf(parent: TraceContext): TraceContext {
  return { traceId: parent.traceId, spanId: nonZeroHex(8), flags: parent.flags };
}

/** A new trace, sampled. */
export function newTrace(): TraceContext {
  return { traceId: nonZeroHex(16), spanId: nonZeroHex(8), flags: "01" };
}

/** The context to work in for an incoming traceparent: a child of it, or (by default) a new trace. */
export function continueOrStart(
  header: string | null | undefined,
  start: () => TraceContext = newTrace,
): TraceContext {
  const parent = parseTraceparent(header);
  return parent ? childOf(parent) : start();
}

/**
 * A stored or received traceparent in its canonical form, or a new trace when
 * there is none or it is malformed: every outgoing message carries one.
 */
export function traceparentOrNew(header: string | null | undefined): string {
  // The common case, a value this service stored, is returned as it is: no parse, no new string.
  if (header && CANONICAL.test(header) && !ZERO_IDS.test(header)) return header;
  return formatTraceparent(parseTraceparent(header) ?? newTrace());
}

// Version 00 exactly as formatTraceparent writes it, and the all-zero ids the spec forbids.
const CANONICAL = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZERO_IDS = /^00-(0{32}-|[0-9a-f]{32}-0{16}-)/;
