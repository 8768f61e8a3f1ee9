/**
 * Serves a Lambda handler over real HTTP on localhost the way API Gateway's
 * HTTP API (payload format 2.0) would: each request becomes an
 * APIGatewayProxyEventV2 (binary bodies base64-encoded, isBase64Encoded set),
 * and the handler's result becomes the HTTP response. Lets unmodified
 * gRPC-web clients (connect-web, buf curl) talk to the handler.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";

export type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LambdaHttpServer {
  /** http://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

export interface LambdaHttpOptions {
  /**
   * The Lambda's configured timeout, for context.getRemainingTimeInMillis();
   * default 30 s. Number.POSITIVE_INFINITY gives a context with no deadline.
   */
  timeoutMs?: number;
}

// HTTP APIs pass these through as text; every other body arrives base64-encoded.
const TEXT_TYPES = /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded)\b)/i;

export async function serveLambda(
  handler: LambdaHttpHandler,
  options: LambdaHttpOptions = {},
): Promise<LambdaHttpServer> {
  const server = createServer((req, res) => {
    void respond(handler, options.timeoutMs ?? 30_000, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

async function respond(
  handler: LambdaHttpHandler,
  timeoutMs: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const event = toEvent(req, Buffer.concat(chunks));
    const result = await handler(event, lambdaContext(timeoutMs));
    const body = result.body ?? "";
    res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string> | undefined);
    res.end(result.isBase64Encoded ? Buffer.from(body, "base64") : body);
  } catch (error) {
    // What API Gateway does when the function itself fails.
    res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "Internal Server Error", error: String(error) }));
  }
}

export function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const contentType = headers["content-type"] ?? "";
  const asText = body.length === 0 || TEXT_TYPES.test(contentType);
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method: req.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: asText ? body.toString("utf8") : body.toString("base64"),
    isBase64Encoded: !asText,
  };
}

export function lambdaContext(timeoutMs = 30_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "payment-ledger-api",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:payment-ledger-api",
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/payment-ledger-api",
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
