/**
 * The api handler on a fresh ledger database, with test auth settings and
 * helpers to mint tokens and craft API Gateway events.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { type ApiDependencies, type ApiHandler, createApiHandler } from "../../lib/api/create-api-handler.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { type ApiConfig, type AuthConfig, apiConfig, authConfig } from "../../lib/config.ts";
import { pingDatabase } from "../../lib/db/ping.ts";
import { lambdaContext } from "./lambda-http.ts";
import { type LedgerFixture, ledgerFixture } from "./ledger.ts";

export const TEST_AUTH: AuthConfig = authConfig({
  JWT_SECRET: "test-secret-for-the-api-tests-0123456789",
  JWT_ISSUER: "https://issuer.test",
  JWT_AUDIENCE: "payment-ledger-test",
});

export const TEST_ORIGIN = "https://app.example.test";

export function testApiConfig(overrides: Partial<ApiConfig> = {}): ApiConfig {
  return { ...apiConfig({ CORS_ALLOWED_ORIGINS: TEST_ORIGIN }), ...overrides };
}

/** Logs go nowhere unless a test asks; LOG_TESTS=1 shows them. */
export function testLogger(): Logger {
  return new Logger({ serviceName: "api-test", logLevel: process.env.LOG_TESTS ? "DEBUG" : "SILENT" });
}

export interface ApiFixture {
  fx: LedgerFixture;
  handler: ApiHandler;
  token(subject: string, options?: { operator?: boolean; ttlSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function apiFixture(overrides: Partial<ApiDependencies> = {}): Promise<ApiFixture> {
  const fx = await ledgerFixture();
  const handler = createApiHandler({
    service: fx.service,
    verifier: createTokenVerifier(TEST_AUTH),
    healthProbe: () => pingDatabase(fx.pool, 1000),
    config: testApiConfig(),
    logger: testLogger(),
    ...overrides,
  });
  return {
    fx,
    handler,
    token: (subject, options = {}) => signLocalToken(TEST_AUTH, { subject, ...options }),
    close: () => fx.close(),
  };
}

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

export async function invoke(
  handler: ApiHandler,
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  return handler(event, lambdaContext());
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
