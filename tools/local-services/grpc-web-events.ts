/**
 * API Gateway (HTTP API v2) events carrying gRPC-web, and reading a handler's
 * result the way a gRPC-web client would. Shared by the tests and the gateway
 * benchmark.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";

export interface EventOptions {
  method?: string;
  contentType?: string | null;
  headers?: Record<string, string>;
  /** Raw bytes sent base64-encoded (isBase64Encoded: true), or a string sent as text. */
  body?: Uint8Array | string;
}

/** An HTTP API v2 event for `path`, as API Gateway would deliver it. */
export function grpcWebEvent(path: string, options: EventOptions = {}): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = { ...options.headers };
  const contentType = options.contentType === undefined ? "application/grpc-web+proto" : options.contentType;
  if (contentType !== null) headers["content-type"] = contentType;
  const body = options.body ?? new Uint8Array(0);
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers,
    requestContext: {
      accountId: "000000000000",
      apiId: "test",
      domainName: "api.test",
      domainPrefix: "api",
      http: {
        method: options.method ?? "POST",
        path,
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: "test",
      },
      requestId: `req-${now.getTime()}`,
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: typeof body === "string" ? body : Buffer.from(body).toString("base64"),
    isBase64Encoded: typeof body !== "string",
  };
}

/** A gRPC-web frame: flags byte, big-endian length, payload. `length` may lie on purpose. */
export function frame(payload: Uint8Array, options: { flags?: number; length?: number } = {}): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, options.flags ?? 0);
  view.setUint32(1, options.length ?? payload.length);
  out.set(payload, 5);
  return out;
}

export interface GrpcOutcome {
  httpStatus: number;
  /** grpc-status from the trailer frame, or from headers for trailers-only answers. */
  code: number | undefined;
  message: string;
  /** Payloads of the data frames. */
  messages: Uint8Array[];
  headers: Record<string, string>;
}

/** Reads a handler result the way a gRPC-web client would (binary or text mode). */
export function readGrpcWeb(result: APIGatewayProxyStructuredResultV2): GrpcOutcome {
  const headers = Object.fromEntries(
    Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
  );
  let bytes = Buffer.from(result.body ?? "", result.isBase64Encoded ? "base64" : "utf8");
  if ((headers["content-type"] ?? "").startsWith("application/grpc-web-text")) {
    bytes = Buffer.from(bytes.toString("latin1"), "base64");
  }
  const messages: Uint8Array[] = [];
  let trailer: Record<string, string> = {};
  let offset = 0;
  while (offset + 5 <= bytes.length) {
    const flags = bytes.readUInt8(offset);
    const length = bytes.readUInt32BE(offset + 1);
    const payload = bytes.subarray(offset + 5, offset + 5 + length);
    if (flags & 0x80) {
      trailer = Object.fromEntries(
        payload
          .toString("utf8")
          .split("\r\n")
          .filter((line) => line.includes(":"))
          .map((line) => {
            const i = line.indexOf(":");
            return [line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()];
          }),
      );
    } else {
      messages.push(payload);
    }
    offset += 5 + length;
  }
  const status = trailer["grpc-status"] ?? headers["grpc-status"];
  const message = trailer["grpc-message"] ?? headers["grpc-message"] ?? "";
  return {
    httpStatus: result.statusCode ?? 200,
    code: status === undefined ? undefined : Number(status),
    message: decodeURIComponent(message),
    messages,
    headers,
  };
}
