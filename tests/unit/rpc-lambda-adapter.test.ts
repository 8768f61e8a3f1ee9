import { Code, ConnectError, createContextKey, createContextValues } from "@connectrpc/connect";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import type { RpcRequest, RpcResponse } from "../../lib/rpc/grpc-web-gateway.ts";
import {
  lambdaDeadline,
  lambdaHandler,
  lambdaResultFrom,
  rpcRequestFromEvent,
} from "../../lib/rpc/lambda-adapter.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";

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

describe("lambdaHandler", () => {
  const ok = (): RpcResponse => ({ status: 200, headers: new Headers(), body: new Uint8Array(0) });

  it("keeps the client's grpc-timeout as sent and hands the gateway the Lambda's deadline beside it", async () => {
    const seen: RpcRequest[] = [];
    const handler = lambdaHandler(
      async (request) => {
        seen.push(request);
        return ok();
      },
      { deadlineMarginMs: 200 },
    );
    const before = Date.now();
    await handler(event({ headers: { "grpc-timeout": "99S" } }), lambdaContext(1_000));
    await handler(event(), lambdaContext(Number.POSITIVE_INFINITY));
    const [capped, unbounded] = seen;
    expect(capped?.headers.get("grpc-timeout")).toBe("99S");
    expect(capped?.deadline).toBeGreaterThanOrEqual(before + 700);
    expect(capped?.deadline).toBeLessThanOrEqual(Date.now() + 800);
    expect(unbounded?.deadline).toBeUndefined();
  });

  it("starts each call's context values from the event", async () => {
    const key = createContextKey<string>("none");
    const seen: string[] = [];
    const handler = lambdaHandler(
      async (request) => {
        seen.push(request.contextValues?.get(key) ?? "no values");
        return ok();
      },
      { deadlineMarginMs: 0, contextValues: (e) => createContextValues().set(key, e.rawPath) },
    );
    await handler(event(), lambdaContext());
    expect(seen).toEqual(["/a.v1.A/B"]);
  });

  it("waits for work after the answer no longer than afterResponseMs, and never into the call's deadline margin", async () => {
    const never = new Promise<void>(() => {});
    const answered = (deadline: number | undefined) => async (): Promise<RpcResponse> => ({
      ...ok(),
      afterResponse: { settled: never, deadline },
    });
    // A deadline within the margin: the answer goes at once, however long the budget.
    const late = lambdaHandler(answered(Date.now() + 30_000), {
      deadlineMarginMs: 30_000,
      afterResponseMs: 60_000,
    });
    expect((await late(event(), lambdaContext())).statusCode).toBe(200);
    // No budget: nothing is waited for.
    const none = lambdaHandler(answered(undefined), { deadlineMarginMs: 0 });
    expect((await none(event(), lambdaContext())).statusCode).toBe(200);
    // Work that settles is waited for.
    let done = false;
    const settling = lambdaHandler(
      async () => ({
        ...ok(),
        afterResponse: {
          settled: new Promise<void>((resolve) => setTimeout(resolve, 10)).then(() => {
            done = true;
          }),
          deadline: undefined,
        },
      }),
      { deadlineMarginMs: 0, afterResponseMs: 60_000 },
    );
    await settling(event(), lambdaContext());
    expect(done).toBe(true);
  });
});
