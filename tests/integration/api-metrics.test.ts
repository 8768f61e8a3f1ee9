import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { EmfMetrics } from "../../lib/observability/metrics.ts";
import type { Account } from "../../lib/payments/model.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { type ApiFixture, apiFixture, authorizePaymentEvent, invoke } from "../support/api.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { uniqueKey } from "../support/ledger.ts";

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

let api: ApiFixture;
let alice: Account;
let bob: Account;
let token: string;

beforeAll(async () => {
  api = await apiFixture({
    metrics: new EmfMetrics({
      namespace: "PaymentLedgerTest",
      serviceName: "payment-ledger",
      functionName: "api",
    }),
  });
  alice = await api.fx.openFundedAccount(1_000n, "EUR", "alice");
  bob = await api.fx.openFundedAccount(0n, "EUR", "bob");
  token = await api.token("alice");
});
afterAll(async () => api?.close());
// Every test here moves money through the real path: the ledger keeps every invariant after each.
checkInvariantsAfterEach(() => api?.fx.pool);
afterEach(() => vi.restoreAllMocks());

/** Runs `work` and returns the EMF lines written to stdout meanwhile. */
async function emfDuring(work: () => Promise<unknown>): Promise<EmfLine[]> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    if (text.includes('"_aws"')) {
      chunks.push(text);
      return true;
    }
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  });
  await work();
  vi.restoreAllMocks();
  return chunks
    .join("")
    .split("\n")
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);
}

function metric(lines: EmfLine[], name: string): EmfLine[] {
  return lines.filter((l) => l._aws.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === name));
}

function pay(amountCents: bigint) {
  return invoke(
    api.handler,
    authorizePaymentEvent(token, {
      idempotencyKey: uniqueKey("metrics"),
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents,
      currency: "EUR",
    }),
  );
}

describe("api EMF metrics", () => {
  it("count every call by method and gRPC code with its latency, and every payment by status and reason", async () => {
    const lines = await emfDuring(async () => {
      expect(readGrpcWeb(await pay(250n)).code).toBe(0);
      expect(readGrpcWeb(await pay(1_000_000n)).code).toBe(0); // declined: insufficient funds
      expect(readGrpcWeb(await pay(0n)).code).toBe(3); // INVALID_ARGUMENT
    });

    const calls = metric(lines, "RpcCalls");
    expect(calls.map((l) => [l.method, l.code, l.RpcCalls])).toEqual([
      ["AuthorizePayment", "OK", 1],
      ["AuthorizePayment", "OK", 1],
      ["AuthorizePayment", "INVALID_ARGUMENT", 1],
    ]);
    expect(calls[0]?._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: "PaymentLedgerTest",
      Dimensions: [["service", "function", "method", "code"]],
      Metrics: [{ Name: "RpcCalls", Unit: "Count" }],
    });
    const latency = metric(lines, "RpcLatency");
    expect(latency).toHaveLength(3);
    expect(latency[0]?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
      { Name: "RpcLatency", Unit: "Milliseconds" },
    ]);
    expect(latency.every((l) => typeof l.RpcLatency === "number" && l.RpcLatency >= 0)).toBe(true);

    const payments = metric(lines, "Payments");
    expect(payments.map((l) => [l.status, l.reason, l.Payments])).toEqual([
      ["AUTHORIZED", "NONE", 1],
      ["DECLINED", "INSUFFICIENT_FUNDS", 1],
    ]);
    expect(payments[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ["service", "function", "status", "reason"],
    ]);

    // Low cardinality: no line carries an account, payment or idempotency key.
    const text = JSON.stringify(lines);
    expect(text).not.toContain(alice.accountId);
    expect(text).not.toContain(bob.accountId);
  });

  it("counts a method the api does not serve as unknown, so callers cannot mint dimensions", async () => {
    const lines = await emfDuring(async () => {
      await invoke(
        api.handler,
        grpcWebEvent("/payment.v1.PaymentService/NoSuchMethod-x1", {
          body: frame(new Uint8Array(0)),
          headers: { authorization: `Bearer ${token}` },
        }),
      );
    });
    expect(metric(lines, "RpcCalls").map((l) => [l.method, l.code])).toEqual([["unknown", "UNIMPLEMENTED"]]);
  });
});
