/** The gateway around Connect-ES, exercised with the Health service and stub probes: no database. */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../lib/gen/grpc/health/v1/health_pb.ts";
import { afterResponse, callDeadline, markTakenEffect } from "../../lib/rpc/call-context.ts";
import { createGrpcWebGateway, type RequestGate, type RpcRequest } from "../../lib/rpc/grpc-web-gateway.ts";
import { healthService } from "../../lib/rpc/health-service.ts";
import { readTrailerStatus } from "../../lib/rpc/trailers.ts";

const CHECK = "/grpc.health.v1.Health/Check";
const WATCH = "/grpc.health.v1.Health/Watch";

/** An application error the gateway knows only through the mapper it is given. */
class Refusal extends Error {}

function gateway(
  options: {
    probe?: () => Promise<boolean>;
    gate?: RequestGate;
    maxRequestBytes?: number;
    impl?: Partial<ServiceImpl<typeof Health>>;
  } = {},
) {
  const unexpected: unknown[] = [];
  const serve = createGrpcWebGateway(
    {
      maxRequestBytes: options.maxRequestBytes ?? 1024,
      mapError: (error) =>
        error instanceof Refusal ? new ConnectError(error.message, Code.InvalidArgument) : undefined,
      onUnexpectedError: (error) => unexpected.push(error),
    },
    (services) =>
      services.add(
        Health,
        options.impl ?? healthService({ probe: options.probe ?? (async () => true), services: ["a.v1.A"] }),
        options.gate ? { requestGate: options.gate } : {},
      ),
  );
  return { serve, unexpected };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SERVING = { status: HealthCheckResponse_ServingStatus.SERVING };

/** The data frames of a buffered gRPC-web body, decoded. */
function messagesOf(body: Uint8Array | string) {
  const bytes = Buffer.from(typeof body === "string" ? Buffer.from(body, "base64") : body);
  const messages = [];
  for (let offset = 0; offset + 5 <= bytes.length; ) {
    const length = bytes.readUInt32BE(offset + 1);
    if ((bytes[offset] ?? 0) === 0) {
      messages.push(fromBinary(HealthCheckResponseSchema, bytes.subarray(offset + 5, offset + 5 + length)));
    }
    offset += 5 + length;
  }
  return messages;
}

interface RequestInit {
  method?: string;
  path?: string;
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function request(body: Uint8Array | string, init: RequestInit = {}): RpcRequest {
  const bytes = typeof body === "string" ? Buffer.from(body, "latin1") : body;
  const headers = new Headers(init.headers);
  headers.set("content-type", init.contentType ?? "application/grpc-web+proto");
  return {
    method: init.method ?? "POST",
    path: init.path ?? CHECK,
    url: `https://api.test${init.path ?? CHECK}`,
    headers,
    body: { size: bytes.byteLength, bytes: () => bytes },
    signal: init.signal ?? new AbortController().signal,
  };
}

function frame(payload: Uint8Array, flags = 0): Uint8Array {
  const out = Buffer.alloc(5 + payload.length);
  out.writeUInt8(flags, 0);
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

const checkRequest = (service = "") =>
  frame(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })));

function statusOf(body: Uint8Array | string) {
  const bytes = typeof body === "string" ? Buffer.from(body, "base64") : body;
  return readTrailerStatus(bytes);
}

describe("gateway", () => {
  it("serves a binary call: data frame, then OK trailer", async () => {
    const { serve } = gateway();
    const response = await serve(request(checkRequest()));
    expect(response.status).toBe(200);
    expect(response.grpc).toEqual({ code: 0, message: "" });
    const body = response.body as Uint8Array;
    const length = Buffer.from(body).readUInt32BE(1);
    const message = fromBinary(HealthCheckResponseSchema, body.subarray(5, 5 + length));
    expect(message.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("serves a text call in text mode", async () => {
    const { serve } = gateway({ probe: async () => false });
    const response = await serve(
      request(Buffer.from(checkRequest()).toString("base64"), { contentType: "application/grpc-web-text" }),
    );
    expect(response.headers.get("content-type")).toBe("application/grpc-web-text+proto");
    expect(typeof response.body).toBe("string");
    expect(statusOf(response.body)).toEqual({ code: 0, message: "" });
  });

  it("answers unknown paths UNIMPLEMENTED and non-gRPC-web content HTTP 415", async () => {
    const { serve } = gateway();
    const unknown = await serve(request(checkRequest(), { path: "/grpc.health.v1.Health/List" }));
    expect(unknown.grpc?.code).toBe(Code.Unimplemented);
    expect(unknown.headers.get("grpc-status")).toBe(String(Code.Unimplemented));
    expect((await serve(request(checkRequest(), { contentType: "application/json" }))).status).toBe(415);
    expect((await serve(request(checkRequest(), { method: "PUT" }))).status).toBe(405);
  });

  it("takes a message of exactly the limit in its frame", async () => {
    const message = checkRequest("a".repeat(32));
    const { serve } = gateway({ maxRequestBytes: message.length - 5 });
    expect((await serve(request(message))).grpc?.code).toBe(Code.NotFound);
    const smaller = gateway({ maxRequestBytes: message.length - 6 });
    expect((await smaller.serve(request(message))).grpc?.code).toBe(Code.ResourceExhausted);
  });

  it("refuses a body over the limit before reading it", async () => {
    const { serve } = gateway({ maxRequestBytes: 8 });
    const req = request(checkRequest("a.v1.A"));
    req.body = {
      size: 64,
      bytes: () => {
        throw new Error("must not be read");
      },
    };
    expect((await serve(req)).grpc?.code).toBe(Code.ResourceExhausted);
  });

  it("calls undecodable request bytes INVALID_ARGUMENT, not INTERNAL", async () => {
    const { serve, unexpected } = gateway();
    const response = await serve(request(frame(Uint8Array.of(0x0a, 0x05, 0x61))));
    expect(response.grpc?.code).toBe(Code.InvalidArgument);
    expect(statusOf(response.body)?.code).toBe(Code.InvalidArgument);
    expect(unexpected).toEqual([]);
  });

  it("maps what a request gate throws; a bug in the gate stays INTERNAL", async () => {
    const refusing = gateway({
      gate: () => {
        throw new Refusal("x: no");
      },
    });
    expect((await refusing.serve(request(checkRequest()))).grpc).toEqual({
      code: Code.InvalidArgument,
      message: "x: no",
    });

    const buggy = gateway({
      gate: () => {
        throw new TypeError("cannot read properties of undefined");
      },
    });
    const response = await buggy.serve(request(checkRequest()));
    expect(response.grpc).toEqual({ code: Code.Internal, message: "internal error" });
    expect(buggy.unexpected).toHaveLength(1);
  });

  it("reports an implementation's bug as a bare INTERNAL", async () => {
    const { serve, unexpected } = gateway({
      probe: async () => {
        throw new Error("secret detail");
      },
    });
    const response = await serve(request(checkRequest()));
    expect(response.grpc).toEqual({ code: Code.Internal, message: "internal error" });
    expect(unexpected).toHaveLength(1);
  });

  it("ends a call whose grpc-timeout passes while the implementation waits", async () => {
    const { serve } = gateway({ probe: () => new Promise<boolean>(() => {}) });
    const response = await serve(request(checkRequest(), { headers: { "grpc-timeout": "50m" } }));
    expect(response.grpc?.code).toBe(Code.DeadlineExceeded);
  });

  it("ends a call when the host's signal fires (the Lambda running out of time)", async () => {
    const { serve } = gateway({ probe: () => new Promise<boolean>(() => {}) });
    const controller = new AbortController();
    const pending = serve(request(checkRequest(), { signal: controller.signal }));
    controller.abort();
    expect((await pending).grpc?.code).toBe(Code.Canceled);
  });

  it("watches a server stream's deadline message by message: what was sent stays, then DEADLINE_EXCEEDED", async () => {
    const { serve } = gateway({
      impl: {
        async *watch() {
          yield SERVING;
          await sleep(1500);
          yield SERVING;
        },
      },
    });
    const response = await serve(
      request(checkRequest(), { path: WATCH, headers: { "grpc-timeout": "200m" } }),
    );
    expect(response.grpc?.code).toBe(Code.DeadlineExceeded);
    expect(messagesOf(response.body)).toHaveLength(1);
  });

  it("ends a server stream when the host's signal fires", async () => {
    const { serve } = gateway({
      impl: {
        async *watch() {
          yield SERVING;
          await new Promise(() => {});
        },
      },
    });
    const controller = new AbortController();
    const pending = serve(request(checkRequest(), { path: WATCH, signal: controller.signal }));
    await sleep(20);
    controller.abort(new ConnectError("out of time", Code.DeadlineExceeded));
    const response = await pending;
    expect(response.grpc?.code).toBe(Code.DeadlineExceeded);
    expect(messagesOf(response.body)).toHaveLength(1);
  });

  it("maps and reports errors a server stream throws, as for unary calls", async () => {
    const { serve, unexpected } = gateway({
      impl: {
        async *watch(req) {
          yield SERVING;
          if (req.service === "bug") throw new TypeError("secret detail");
          throw new Refusal("service: no");
        },
      },
    });
    const refused = await serve(request(checkRequest(), { path: WATCH }));
    expect(refused.grpc).toEqual({ code: Code.InvalidArgument, message: "service: no" });
    expect(messagesOf(refused.body)).toHaveLength(1);
    const bug = await serve(request(checkRequest("bug"), { path: WATCH }));
    expect(bug.grpc).toEqual({ code: Code.Internal, message: "internal error" });
    expect(unexpected).toHaveLength(1);
  });

  it("holds a server stream's request to one message, as a unary call's (UNIMPLEMENTED otherwise)", async () => {
    const { serve } = gateway({ impl: { async *watch() {} } });
    for (const body of [new Uint8Array(0), Buffer.concat([checkRequest(), checkRequest()])]) {
      expect((await serve(request(body, { path: WATCH }))).grpc?.code).toBe(Code.Unimplemented);
    }
  });

  it("answers a call that has taken effect with its result, though its deadline passed meanwhile", async () => {
    const { serve } = gateway({
      impl: {
        async check(_req, context) {
          await sleep(10);
          markTakenEffect(context.values);
          // Whatever follows the effect (say, mapping the result) outlasts the deadline.
          await sleep(150);
          return SERVING;
        },
      },
    });
    const response = await serve(request(checkRequest(), { headers: { "grpc-timeout": "50m" } }));
    expect(response.grpc?.code).toBe(0);
    expect(messagesOf(response.body)).toHaveLength(1);
  });

  it("gives the implementation one deadline: the sooner of the client's and the host's, the header left as sent", async () => {
    const seen: Array<{ deadline: number | undefined; header: string | null }> = [];
    const { serve } = gateway({
      impl: {
        async check(_req, context) {
          seen.push({
            deadline: callDeadline(context.values),
            header: context.requestHeader.get("grpc-timeout"),
          });
          return SERVING;
        },
      },
    });
    const hostDeadline = Date.now() + 60_000;
    const host = (init: RequestInit) => ({ ...request(checkRequest(), init), deadline: hostDeadline });
    const before = Date.now();
    await serve(host({ headers: { "grpc-timeout": "5S" } }));
    await serve(host({ headers: { "grpc-timeout": "2M" } }));
    await serve(host({}));
    await serve(request(checkRequest()));
    const [client, capped, hostOnly, none] = seen;
    expect(client?.header).toBe("5S");
    expect(client?.deadline).toBeGreaterThanOrEqual(before + 5000);
    expect(client?.deadline).toBeLessThan(hostDeadline);
    expect(capped).toEqual({ deadline: hostDeadline, header: "2M" });
    expect(hostOnly).toEqual({ deadline: hostDeadline, header: null });
    expect(none).toEqual({ deadline: undefined, header: null });
  });

  it("runs work after the answer, whatever the answer, reporting a failure as a bug", async () => {
    const ran: string[] = [];
    const { serve, unexpected } = gateway({
      impl: {
        async check(req, context) {
          afterResponse(context.values, async () => {
            ran.push(`after ${req.service}`);
          });
          afterResponse(context.values, () => Promise.reject(new Error("after-response failure")));
          ran.push(`answer ${req.service}`);
          if (req.service === "refused") throw new Refusal("no");
          return SERVING;
        },
      },
    });
    const ok = await serve(request(checkRequest("a"), { headers: { "grpc-timeout": "5S" } }));
    expect(ok.grpc?.code).toBe(0);
    expect(ok.afterResponse?.deadline).toBeGreaterThan(Date.now());
    await ok.afterResponse?.settled;
    const refused = await serve(request(checkRequest("refused")));
    expect(refused.grpc?.code).toBe(Code.InvalidArgument);
    expect(refused.afterResponse?.deadline).toBeUndefined();
    await refused.afterResponse?.settled;
    expect(ran).toEqual(["answer a", "after a", "answer refused", "after refused"]);
    expect(unexpected).toHaveLength(2);
    // A call that left no such work has none to wait for.
    expect((await gateway().serve(request(checkRequest()))).afterResponse).toBeUndefined();
  });
});
