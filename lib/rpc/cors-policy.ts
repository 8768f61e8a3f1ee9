/**
 * CORS for browser gRPC-web clients. Their calls are never "simple" requests
 * (the content type alone rules that out), so a browser always asks first
 * with a preflight; an origin that is not allowed gets no CORS headers and
 * the browser never sends the call.
 */

/**
 * What gRPC-web clients send besides the body: Google's grpc-web, connect-web,
 * our bearer token, and W3C Trace Context (a browser may start the trace).
 */
export const ALLOWED_HEADERS = [
  "content-type",
  "x-grpc-web",
  "x-user-agent",
  "grpc-timeout",
  "authorization",
  "traceparent",
  "tracestate",
];
/** Trailers-only answers carry the status in headers, which scripts may read only if exposed. */
export const EXPOSED_HEADERS = ["grpc-status", "grpc-message", "grpc-status-details-bin"];
export const ALLOWED_METHODS = ["POST", "OPTIONS"];

export interface CorsOptions {
  /** Exact origins (scheme://host[:port]) or "*" for any. */
  allowedOrigins: readonly string[];
  maxAgeSeconds: number;
}

/** Answers are shared between calls (built once per allowed origin): copy them to change them. */
export interface CorsPolicy {
  /** Headers answering a preflight from `origin`. */
  preflight(origin: string | undefined): Readonly<Record<string, string>>;
  /** Headers to add to the answer of an actual call from `origin`. */
  response(origin: string | undefined): Readonly<Record<string, string>>;
}

export function createCorsPolicy(options: CorsOptions): CorsPolicy {
  const anyOrigin = options.allowedOrigins.includes("*");
  const origins = new Set(options.allowedOrigins.map((origin) => origin.replace(/\/+$/, "").toLowerCase()));
  // With a list, the answer depends on the Origin header, so caches must key on it.
  const vary: Readonly<Record<string, string>> = Object.freeze(
    anyOrigin ? {} : ({ vary: "origin" } as Record<string, string>),
  );
  // Answers depend only on the allowed origin echoed back, from a configured, bounded set:
  // each is built once, not on every call.
  const preflights = new Map<string, Readonly<Record<string, string>>>();
  const responses = new Map<string, Readonly<Record<string, string>>>();

  const allowOrigin = (origin: string | undefined): string | undefined => {
    if (anyOrigin) return "*";
    return origin !== undefined && origins.has(origin.toLowerCase()) ? origin : undefined;
  };
  const once = (
    cache: Map<string, Readonly<Record<string, string>>>,
    allowed: string,
    build: () => Record<string, string>,
  ) => {
    let headers = cache.get(allowed);
    if (!headers) {
      headers = Object.freeze(build());
      // Only the configured spellings are kept (what browsers send): other casings are built each time.
      if (allowed === "*" || origins.has(allowed)) cache.set(allowed, headers);
    }
    return headers;
  };

  return {
    preflight(origin) {
      const allowed = allowOrigin(origin);
      if (!allowed) return vary;
      return once(preflights, allowed, () => ({
        ...vary,
        "access-control-allow-origin": allowed,
        "access-control-allow-methods": ALLOWED_METHODS.join(", "),
        "access-control-allow-headers": ALLOWED_HEADERS.join(", "),
        "access-control-max-age": String(options.maxAgeSeconds),
      }));
    },
    response(origin) {
      const allowed = allowOrigin(origin);
      if (!allowed) return vary;
      return once(responses, allowed, () => ({
        ...vary,
        "access-control-allow-origin": allowed,
        "access-control-expose-headers": EXPOSED_HEADERS.join(", "),
      }));
    },
  };
}
