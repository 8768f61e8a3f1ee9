import { afterEach, describe, expect, it, vi } from "vitest";
import { EmfMetrics } from "../../lib/observability/metrics.ts";

interface EmfLine {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

function captureStdout(): { lines: () => EmfLine[] } {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  return {
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as EmfLine),
  };
}

afterEach(() => vi.restoreAllMocks());

describe("EMF metrics", () => {
  it("writes one EMF line per metric with exactly its own dimensions, unit and value", () => {
    const out = captureStdout();
    const metrics = new EmfMetrics({ namespace: "PaymentLedger", serviceName: "svc", functionName: "api" });
    metrics.count("RpcCalls", { method: "AuthorizePayment", code: "OK" });
    metrics.milliseconds("RpcLatency", { method: "AuthorizePayment", code: "OK" }, 12.5);
    metrics.count("OutboxPending", {}, 7);
    const lines = out.lines();
    expect(lines).toHaveLength(3);
    const [calls, latency, pending] = lines as [EmfLine, EmfLine, EmfLine];
    expect(calls._aws.CloudWatchMetrics[0]).toEqual({
      Namespace: "PaymentLedger",
      Dimensions: [["service", "function", "method", "code"]],
      Metrics: [{ Name: "RpcCalls", Unit: "Count" }],
    });
    expect(calls).toMatchObject({
      service: "svc",
      function: "api",
      method: "AuthorizePayment",
      code: "OK",
      RpcCalls: 1,
    });
    expect(latency._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
      { Name: "RpcLatency", Unit: "Milliseconds" },
    ]);
    expect(latency.RpcLatency).toBe(12.5);
    expect(pending._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([["service", "function"]]);
    expect(pending.OutboxPending).toBe(7);
  });
});
