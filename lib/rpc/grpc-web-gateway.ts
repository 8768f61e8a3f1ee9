/**
 * A gRPC-web server for buffered HTTP exchanges (one request in, one response
 * out, as on Lambda). Connect-ES does the protocol work: framing, message
 * limits, grpc-timeout, compression negotiation, content-type checks and
 * trailers. Around it this module adds what Connect-ES leaves to the host:
 * routing with UNIMPLEMENTED for unknown methods, a body limit enforced before
 * anything is decoded, the grpc-web-text mode, the call's deadline as one
 * value (call-context.ts), work after the answer, and the precise code for
 * undecodable request messages.
 */
import type { DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createConnectRouter,
  createContextValues,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { headerTimeout, parseTimeout } from "@connectrpc/connect/protocol-grpc-web";
import { runAfterResponse, setCallDeadline } from "./call-context.ts";
import { markStage, stageOf } from "./call-stage.ts";
import { deadlineInterceptor } from "./deadline-interceptor.ts";
import { type ErrorReporting, errorInterceptor, reportedConnectError } from "./error-interceptor.ts";
import {
  decodeTextBody,
  encodeTextBody,
  toTextContentType,
  type WireFormat,
  wireFormatOf,
} from "./grpc-web-text.ts";
import { type CallStatus, readTrailerStatus, statusFrom, statusHeaders, trailerFrame } from "./trailers.ts";
import { unaryFramingError } from "./unary-request-body.ts";

/** Runs once headers are known and before the body is read; throwing refuses the call unread. */
export type RequestGate = (context: HandlerContext) => void | Promise<void>;

export interface RequestBody {
  /** Size of the HTTP body in bytes, known without decoding it. */
  readonly size: number;
  bytes(): Uint8Array;
}

export interface RpcRequest {
  method: string;
  /** Path without any stage prefix: /package.Service/Method. */
  path: string;
  url: string;
  headers: Headers;
  body: RequestBody;
  /** Fires when the host stops waiting for the call (e.g. the Lambda is about to time out). */
  signal: AbortSignal;
  /** When `signal` fires, in epoch milliseconds; undefined when the host sets no limit. */
  deadline?: number;
  /** Values the host sets for the call (say, its trace context); the gateway adds its own. */
  contextValues?: ContextValues;
}

export interface RpcResponse {
  status: number;
  headers: Headers;
  /** Bytes for binary clients; base64 text for grpc-web-text clients. */
  body: Uint8Array | string;
  /** The gRPC status sent, when the response is a gRPC one (HTTP 200). */
  grpc?: CallStatus;
  /**
   * The call's work after the answer (call-context.ts' afterResponse), already
   * running: `settled` never rejects. A host that must wait for it keeps
   * clear of `deadline` (the call's, when it has one): the answer is what the
   * client is waiting for.
   */
  afterResponse?: { settled: Promise<void>; deadline: number | undefined };
}

export type Gateway = (request: RpcRequest) => Promise<RpcResponse>;

export interface GatewayOptions extends ErrorReporting {
  /**
   * Largest request message accepted, in bytes (Connect's readMaxBytes). A
   * body larger than one such message in its frame is refused before it is
   * decoded.
   */
  maxRequestBytes: number;
}

export interface ServiceRegistry {
  add<S extends DescService>(
    service: S,
    impl: Partial<ServiceImpl<S>>,
    options?: { requestGate?: RequestGate },
  ): ServiceRegistry;
}

const BINARY_PROTO = "application/grpc-web+proto";
// The length-prefixed frame around each message: a flags byte and four length bytes.
const FRAME_PREFIX_BYTES = 5;

export function createGrpcWebGateway(
  options: GatewayOptions,
  register: (registry: ServiceRegistry) => void,
): Gateway {
  const routes = createGrpcWebRoutes(options, register);
  return (request) => serve(routes, options, request);
}

/**
 * The Connect-ES handlers the gateway routes to, by request path, configured
 * as it configures them (interceptors, request gates, limits). Exported so
 * a benchmark can call them without the gateway around them.
 */
export function createGrpcWebRoutes(
  options: GatewayOptions,
  register: (registry: ServiceRegistry) => void,
): Map<string, UniversalHandler> {
  const base = {
    grpcWeb: true,
    // Only gRPC-web: browsers and gRPC-web clients are the audience, and one
    // protocol keeps every refusal (415, UNIMPLEMENTED) unambiguous.
    grpc: false,
    connect: false,
    readMaxBytes: options.maxRequestBytes,
    // No compression: request messages are small, and a compressed frame
    // without a negotiated encoding is refused instead of guessed at.
    acceptCompression: [],
    interceptors: [errorInterceptor(options), deadlineInterceptor],
  };
  const router = createConnectRouter(base);
  const registry: ServiceRegistry = {
    add(service, impl, serviceOptions = {}) {
      router.service(service, impl, {
        ...base,
        requestGate: gate(serviceOptions.requestGate, options),
      });
      return registry;
    },
  };
  register(registry);
  return new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
}

/** The service's gate, its refusals mapped; a gate that decides at once adds no promise. */
function gate(inner: RequestGate | undefined, options: GatewayOptions): RequestGate {
  return (context) => {
    let pending: void | Promise<void>;
    try {
      pending = inner?.(context);
    } catch (error) {
      throw reportedConnectError(error, options, procedureOf(context));
    }
    if (!pending) {
      markStage(context.values, "decoding");
      return;
    }
    return pending.then(
      () => markStage(context.values, "decoding"),
      (error: unknown) => Promise.reject(reportedConnectError(error, options, procedureOf(context))),
    );
  };
}

async function serve(
  routes: Map<string, UniversalHandler>,
  options: GatewayOptions,
  request: RpcRequest,
): Promise<RpcResponse> {
  const format = wireFormatOf(request.headers.get("content-type"));
  // The gRPC-web spec answers a non-gRPC content type at the HTTP level.
  if (!format) return { status: 415, headers: new Headers(), body: new Uint8Array(0) };
  if (request.method !== "POST") {
    return { status: 405, headers: new Headers({ allow: "POST" }), body: new Uint8Array(0) };
  }
  const handler = routes.get(request.path);
  if (!handler) {
    return trailersOnly(
      format,
      new ConnectError(`method ${request.path} is not implemented`, Code.Unimplemented),
    );
  }
  // A text body is base64: three bytes for every four characters.
  const size = format.text ? Math.floor((request.body.size * 3) / 4) : request.body.size;
  if (size > options.maxRequestBytes + FRAME_PREFIX_BYTES) {
    return trailersOnly(
      format,
      new ConnectError(
        `request body of ${size} bytes exceeds the limit of ${options.maxRequestBytes} bytes`,
        Code.ResourceExhausted,
      ),
    );
  }
  let body: Uint8Array;
  try {
    body = format.text ? decodeTextBody(request.body.bytes()) : request.body.bytes();
  } catch (error) {
    return trailersOnly(format, reportedConnectError(error, options, request.path));
  }

  // The request is the gateway's to change: Connect copies headers it keeps.
  const header = request.headers;
  if (format.text) header.set("content-type", format.binaryContentType);
  const values = request.contextValues ?? createContextValues();
  const deadline = callDeadlineOf(header, request.deadline);
  setCallDeadline(values, deadline);
  const kind = handler.method.methodKind;
  const framingError = kind === "unary" || kind === "server_streaming" ? unaryFramingError(body) : undefined;
  let response: Awaited<ReturnType<UniversalHandler>>;
  try {
    response = await handler({
      httpVersion: "1.1",
      url: request.url,
      method: request.method,
      header,
      body: oneChunk(body, framingError),
      signal: request.signal,
      contextValues: values,
    });
  } catch (error) {
    options.onUnexpectedError(error, request.path);
    return trailersOnly(format, new ConnectError("internal error", Code.Internal));
  }
  // Refusals may share a constant Headers object; a 200 has its call's own, which is ours to change.
  if (response.status !== 200) {
    return { status: response.status, headers: new Headers(response.header), body: new Uint8Array(0) };
  }
  const headers = response.header ?? new Headers();

  let out = response.body ? await readAll(response.body) : new Uint8Array(0);
  let status = readTrailerStatus(out) ?? statusFrom(headers);
  if (status?.code === Code.Internal && stageOf(values) === "decoding" && !framingError) {
    // Connect-ES reports a request message that does not decode as INTERNAL;
    // here INTERNAL means a bug of ours, and bad input is the caller's.
    const error = new ConnectError(`invalid request message: ${status.message}`, Code.InvalidArgument);
    out = trailerFrame(error);
    status = { code: error.code, message: error.rawMessage };
  }
  const settled = runAfterResponse(values, (error) => options.onUnexpectedError(error, request.path));
  const answer: RpcResponse = format.text
    ? { status: 200, headers, body: encodeTextBody(out) }
    : { status: 200, headers, body: out };
  if (format.text) {
    headers.set("content-type", toTextContentType(headers.get("content-type") ?? BINARY_PROTO));
  }
  if (status) answer.grpc = status;
  if (settled) answer.afterResponse = { settled, deadline };
  return answer;
}

/**
 * A trailers-only response: the status travels in the HTTP headers and the
 * body is empty, which every gRPC-web client reads as the call's outcome.
 */
export function trailersOnly(format: WireFormat | undefined, error: ConnectError): RpcResponse {
  const headers = statusHeaders(error);
  headers.set("content-type", format?.text ? toTextContentType(BINARY_PROTO) : BINARY_PROTO);
  return {
    status: 200,
    headers,
    body: format?.text ? "" : new Uint8Array(0),
    grpc: { code: error.code, message: error.rawMessage },
  };
}

// setTimeout holds at most 2^31-1 ms and fires at once beyond that, which
// would turn a legitimate "99999999H" into an immediate DEADLINE_EXCEEDED.
// Such a timeout bounds nothing a Lambda can reach, so it is dropped.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The call's one deadline: the sooner of the client's grpc-timeout (kept as
 * sent; Connect enforces it through the call's signal) and the host's. A
 * malformed timeout is left for Connect-ES to refuse.
 */
function callDeadlineOf(header: Headers, hostDeadline: number | undefined): number | undefined {
  const { timeoutMs } = parseTimeout(header.get(headerTimeout), Number.MAX_SAFE_INTEGER);
  if (timeoutMs !== undefined && timeoutMs > MAX_TIMER_MS) header.delete(headerTimeout);
  const client = timeoutMs === undefined || timeoutMs > MAX_TIMER_MS ? undefined : Date.now() + timeoutMs;
  if (client === undefined) return hostDeadline;
  return hostDeadline === undefined ? client : Math.min(client, hostDeadline);
}

function procedureOf(context: HandlerContext): string {
  return `/${context.service.typeName}/${context.method.name}`;
}

/**
 * The buffered body as a one-chunk stream; a plain iterator costs less than an
 * async generator. A framing error surfaces when Connect reads the body, which
 * is after the request gate: an unauthenticated caller learns nothing of it.
 */
function oneChunk(bytes: Uint8Array, error: ConnectError | undefined): AsyncIterable<Uint8Array> {
  let sent = false;
  const iterator: AsyncIterator<Uint8Array> = {
    next: () => {
      if (error) return Promise.reject(error);
      if (sent) return Promise.resolve({ done: true, value: undefined });
      sent = true;
      return Promise.resolve({ done: false, value: bytes });
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}
