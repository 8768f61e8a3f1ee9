/**
 * API Gateway HTTP API (payload format 2.0) events in, gateway requests out,
 * and back. Binary bodies travel base64-encoded in both directions, flagged
 * with isBase64Encoded; text-mode bodies are base64 already and go as text.
 */
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type { Gateway, RpcRequest, RpcResponse } from "./grpc-web-gateway.ts";

export function rpcRequestFromEvent(
  event: APIGatewayProxyEventV2,
  signal: AbortSignal,
  deadline?: number,
): RpcRequest {
  const raw = event.body ?? "";
  const encoding = event.isBase64Encoded ? "base64" : "utf8";
  let bytes: Uint8Array | undefined;
  return {
    method: event.requestContext.http.method,
    path: stripStage(event.rawPath, event.requestContext.stage),
    url: `https://${event.requestContext.domainName}${event.rawPath}`,
    headers: headersFrom(event.headers),
    body: {
      // Computed from the encoded length, so an oversized body is refused undecoded.
      size: Buffer.byteLength(raw, encoding),
      bytes: () => {
        bytes ??= Buffer.from(raw, encoding);
        return bytes;
      },
    },
    signal,
    ...(deadline === undefined ? {} : { deadline }),
  };
}

export function lambdaResultFrom(response: RpcResponse): APIGatewayProxyStructuredResultV2 {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (typeof response.body === "string") {
    return { statusCode: response.status, headers, body: response.body, isBase64Encoded: false };
  }
  const { buffer, byteOffset, byteLength } = response.body;
  return {
    statusCode: response.status,
    headers,
    body: Buffer.from(buffer, byteOffset, byteLength).toString("base64"),
    isBase64Encoded: true,
  };
}

export interface LambdaHandlerOptions {
  /** Calls end DEADLINE_EXCEEDED this long before the Lambda would be killed. */
  deadlineMarginMs: number;
  /**
   * How long the answer may wait for the call's work after the response
   * (call-context.ts' afterResponse); default 0. Never closer than
   * deadlineMarginMs to the call's deadline, so the answer still reaches a
   * client that is counting down. Lambda freezes the sandbox once the handler
   * returns, so work still running then resumes only with the next
   * invocation (or never); where the runtime keeps running (serverless
   * offline, LocalStack) it carries on.
   */
  afterResponseMs?: number;
  /** The call's first context values (say, its trace context), from the event. */
  contextValues?(event: APIGatewayProxyEventV2, context: Context): ContextValues;
  /** Sees every exchange, e.g. for an access log. */
  onResponse?(request: RpcRequest, response: RpcResponse, durationMs: number): void;
}

export function lambdaHandler(
  gateway: Gateway,
  options: LambdaHandlerOptions,
): (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2> {
  const afterResponseMs = options.afterResponseMs ?? 0;
  return async (event, context) => {
    const deadline = lambdaDeadline(context, options.deadlineMarginMs);
    try {
      const started = performance.now();
      const request = rpcRequestFromEvent(event, deadline.signal, deadline.at);
      if (options.contextValues) request.contextValues = options.contextValues(event, context);
      const response = await gateway(request);
      options.onResponse?.(request, response, performance.now() - started);
      if (response.afterResponse) {
        await waitAtMost(response.afterResponse, afterResponseMs, options.deadlineMarginMs);
      }
      return lambdaResultFrom(response);
    } finally {
      deadline.dispose();
    }
  };
}

/** Waits for `work` to settle, at most `maxMs` and no later than `marginMs` before its deadline. */
async function waitAtMost(
  work: { settled: Promise<void>; deadline: number | undefined },
  maxMs: number,
  marginMs: number,
): Promise<void> {
  const ms = Math.min(maxMs, work.deadline === undefined ? maxMs : work.deadline - marginMs - Date.now());
  if (ms <= 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([work.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * A signal that fires shortly before the Lambda times out, so a slow call
 * still answers DEADLINE_EXCEEDED instead of a bare HTTP 5xx from API Gateway;
 * `at` is when, in epoch milliseconds. The gateway makes it the call's
 * deadline when it comes before the client's (whose grpc-timeout is left as
 * sent), as a gRPC proxy propagates a deadline.
 */
export function lambdaDeadline(
  context: Pick<Context, "getRemainingTimeInMillis"> | undefined,
  marginMs: number,
): { signal: AbortSignal; at: number | undefined; dispose(): void } {
  const controller = new AbortController();
  const remaining = context?.getRemainingTimeInMillis?.();
  if (remaining === undefined || !Number.isFinite(remaining)) {
    return { signal: controller.signal, at: undefined, dispose: () => {} };
  }
  const budgetMs = Math.max(0, Math.floor(remaining - marginMs));
  // No closures per call: this runs on every invocation.
  const timer = setTimeout(outOfTime, budgetMs, controller);
  return { signal: controller.signal, at: Date.now() + budgetMs, dispose: clearTimeout.bind(null, timer) };
}

function outOfTime(controller: AbortController): void {
  controller.abort(new ConnectError("the server ran out of time for this call", Code.DeadlineExceeded));
}

function headersFrom(source: APIGatewayProxyEventV2["headers"] | undefined): Headers {
  const headers = new Headers();
  for (const name in source) {
    const value = source[name];
    if (value === undefined) continue;
    try {
      headers.set(name, value);
    } catch {
      // A name or value fetch's Headers refuses is none that gRPC-web uses; drop it.
    }
  }
  return headers;
}

/** With a named stage, rawPath starts with it (/prod/pkg.Service/Method); routes do not. */
function stripStage(rawPath: string, stage: string | undefined): string {
  if (!stage || stage === "$default") return rawPath;
  const prefix = `/${stage}/`;
  return rawPath.startsWith(prefix) ? rawPath.slice(prefix.length - 1) : rawPath;
}
