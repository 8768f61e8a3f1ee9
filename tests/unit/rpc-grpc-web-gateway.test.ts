/** The gateway around Connect-ES, exercised with the Health service and stub probes: no database. */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../lib/errors.ts";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../lib/gen/grpc/health/v1/health_pb.ts";
import { createGrpcWebGateway, type RequestGate, type RpcRequest } from "../../lib/rpc/grpc-web-gateway.ts";
import { healthService } from "../../lib/rpc/health-service.ts";
import { readTrailerStatus } from "../../lib/rpc/trailers.ts";

const CHECK = "/grpc.health.v1.Health/Check";

function gateway(
  options: { probe?: () => Promise<boolean>; gate?: RequestGate; maxRequestBytes?: number } = {},
) {
  const unexpected: unknown[] = [];
  const serve = createGrpcWebGateway(
    {
      maxRequestBytes: options.maxRequestBytes ?? 1024,
      onUnexpectedError: (error) => unexpected.push(error),
    },
    (services) =>
      services.add(
        Health,
        healthService({ probe: options.probe ?? (async () => true), services: ["a.v1.A"] }),
        options.gate ? { requestGate: options.gate } : {},
      ),
  );
  return { serve, unexpected };
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
        throw new InvalidArgumentError("x", "no");
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
});
