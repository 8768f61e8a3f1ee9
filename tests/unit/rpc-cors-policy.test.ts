import { describe, expect, it } from "vitest";
import { createCorsPolicy } from "../../lib/rpc/cors-policy.ts";

describe("CORS policy", () => {
  const policy = createCorsPolicy({ allowedOrigins: ["https://app.example.com"], maxAgeSeconds: 600 });

  it("grants an allowed origin's preflight what gRPC-web needs", () => {
    expect(policy.preflight("https://app.example.com")).toEqual({
      vary: "origin",
      "access-control-allow-origin": "https://app.example.com",
      "access-control-allow-methods": "POST, OPTIONS",
      "access-control-allow-headers":
        "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization, traceparent, tracestate",
      "access-control-max-age": "600",
    });
  });

  it("exposes the status headers on answers to an allowed origin", () => {
    expect(policy.response("https://app.example.com")).toMatchObject({
      "access-control-allow-origin": "https://app.example.com",
      "access-control-expose-headers": "grpc-status, grpc-message, grpc-status-details-bin",
    });
  });

  it("grants nothing to other origins or to requests without one", () => {
    for (const origin of [
      "https://evil.example",
      "https://app.example.com.evil.example",
      "null",
      undefined,
    ]) {
      expect(policy.preflight(origin)).toEqual({ vary: "origin" });
      expect(policy.response(origin)).toEqual({ vary: "origin" });
    }
  });

  it("matches origins case-insensitively and ignores a configured trailing slash", () => {
    const p = createCorsPolicy({ allowedOrigins: ["https://App.Example.com/"], maxAgeSeconds: 1 });
    expect(p.response("https://app.example.com")["access-control-allow-origin"]).toBe(
      "https://app.example.com",
    );
  });

  it("answers * to everyone when configured with *, with no Vary needed", () => {
    const any = createCorsPolicy({ allowedOrigins: ["*"], maxAgeSeconds: 1 });
    expect(any.response("https://whoever.example")).toEqual({
      "access-control-allow-origin": "*",
      "access-control-expose-headers": "grpc-status, grpc-message, grpc-status-details-bin",
    });
  });

  it("grants nothing by default (no origins configured)", () => {
    const none = createCorsPolicy({ allowedOrigins: [], maxAgeSeconds: 1 });
    expect(none.preflight("http://localhost:3000")["access-control-allow-origin"]).toBeUndefined();
  });
});
