import { Code, ConnectError } from "@connectrpc/connect";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { lambdaDeadline, lambdaResultFrom, rpcRequestFromEvent } from "../../lib/rpc/lambda-adapter.ts";

function event(overrides: Partial<APIGatewayProxyEventV2> = {}, stage = "$default"): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/a.v1.A/B",
    rawQueryString: "",
    headers: { "content-type": "application/grpc-web+proto" },
    requestContext: {
      accountId: "1",
      apiId: "x",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: { method: "POST", path: "/a.v1.A/B", protocol: "HTTP/1.1", sourceIp: "1.2.3.4", userAgent: "t" },
      requestId: "r",
      routeKey: "$default",
      stage,
      time: "",
      timeEpoch: 0,
    },
    isBase64Encoded: false,
    ...overrides,
  };
}

describe("rpcRequestFromEvent", () => {
  it("knows a base64 body's size without decoding it, and decodes it once on demand", () => {
    const bytes = Uint8Array.of(0, 0, 0, 0, 3, 1, 2, 3);
    const req = rpcRequestFromEvent(
      event({ body: Buffer.from(bytes).toString("base64"), isBase64Encoded: true }),
      new AbortController().signal,
    );
    expect(req.body.size).toBe(8);
    expect(Buffer.from(req.body.bytes())).toEqual(Buffer.from(bytes));
    expect(req.body.bytes()).toBe(req.body.bytes());
  });

  it("takes a text body as UTF-8", () => {
    const req = rpcRequestFromEvent(event({ body: "QUJD" }), new AbortController().signal);
    expect(Buffer.from(req.body.bytes()).toString()).toBe("QUJD");
    expect(rpcRequestFromEvent(event(), new AbortController().signal).body.size).toBe(0);
  });

  it("strips a named stage from the path and keeps the URL whole", () => {
    const req = rpcRequestFromEvent(
      event({ rawPath: "/prod/a.v1.A/B" }, "prod"),
      new AbortController().signal,
    );
    expect(req.path).toBe("/a.v1.A/B");
    expect(req.url).toBe("https://api.example.com/prod/a.v1.A/B");
  });

  it("drops header values fetch's Headers refuses instead of failing the call", () => {
    const req = rpcRequestFromEvent(
      event({ headers: { "content-type": "application/grpc-web", "x-bad": "a\u0000b", "bad name": "v" } }),
      new AbortController().signal,
    );
    expect(req.headers.get("content-type")).toBe("application/grpc-web");
    expect(req.headers.has("x-bad")).toBe(false);
  });
});

describe("lambdaResultFrom", () => {
  it("sends bytes base64-encoded with the flag set", () => {
    const result = lambdaResultFrom({
      status: 200,
      headers: new Headers({ a: "1" }),
      body: Uint8Array.of(0x80, 0, 0, 0, 0),
    });
    expect(result).toEqual({ statusCode: 200, headers: { a: "1" }, body: "gAAAAAA=", isBase64Encoded: true });
  });

  it("sends text-mode bodies as they are", () => {
    const result = lambdaResultFrom({ status: 200, headers: new Headers(), body: "gAAAAAA=" });
    expect(result).toMatchObject({ body: "gAAAAAA=", isBase64Encoded: false });
  });
});

describe("lambdaDeadline", () => {
  it("never fires without a Lambda context", () => {
    const { signal, dispose } = lambdaDeadline(undefined, 100);
    expect(signal.aborted).toBe(false);
    dispose();
  });

  it("fires with DEADLINE_EXCEEDED once the remaining time is within the margin", async () => {
    const { signal } = lambdaDeadline({ getRemainingTimeInMillis: () => 50 }, 100);
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    expect(signal.reason).toBeInstanceOf(ConnectError);
    expect((signal.reason as ConnectError).code).toBe(Code.DeadlineExceeded);
  });
});
