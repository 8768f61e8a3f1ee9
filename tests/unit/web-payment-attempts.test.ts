import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  PaymentAttempts,
  type PaymentFields,
  type SendProgress,
  sendSafely,
} from "../../web/src/payment-attempts.ts";
import { describeRpcError } from "../../web/src/rpc-error.ts";

const fields: PaymentFields = {
  payerAccountId: "01JD0000000000000000000001",
  payeeAccountId: "01JD0000000000000000000002",
  amountCents: 1250n,
  currency: "EUR",
  description: "coffee",
};

function keys(): () => string {
  let n = 0;
  return () => `key-${++n}`;
}

const networkError = () => ConnectError.from(new TypeError("Failed to fetch"));
const noSleep = async () => undefined;

describe("web client idempotency keys", () => {
  it("gives each new payment its own key", () => {
    const attempts = new PaymentAttempts(keys());
    const first = attempts.begin(fields);
    attempts.settle(first.attempt);
    const second = attempts.begin(fields);
    expect([first.attempt.idempotencyKey, second.attempt.idempotencyKey]).toEqual(["key-1", "key-2"]);
    expect(second.reused).toBe(false);
  });

  it("reuses the key while the outcome of the same payment is unknown", () => {
    const attempts = new PaymentAttempts(keys());
    const first = attempts.begin(fields);
    const again = attempts.begin({ ...fields });
    expect(again).toEqual({ attempt: first.attempt, reused: true });
  });

  it("changed details are another payment, with a new key", () => {
    const attempts = new PaymentAttempts(keys());
    attempts.begin(fields);
    const other = attempts.begin({ ...fields, amountCents: 1251n });
    expect(other.attempt.idempotencyKey).toBe("key-2");
    expect(other.reused).toBe(false);
    expect(attempts.lastAttempt()).toBe(other.attempt);
  });
});

describe("web client safe retries", () => {
  it("retries a call that got no answer, reporting each retry, until the server answers", async () => {
    const progress: SendProgress[] = [];
    let calls = 0;
    const result = await sendSafely(
      async () => {
        calls++;
        if (calls < 3) throw networkError();
        return "answer";
      },
      { maxAttempts: 4, baseDelayMs: 100, sleep: noSleep, onProgress: (p) => progress.push(p) },
    );
    expect(result).toEqual({ kind: "answered", response: "answer" });
    expect(progress.filter((p) => p.kind === "retrying").map((p) => [p.attempt, p.delayMs])).toEqual([
      [2, 100],
      [3, 200],
    ]);
  });

  it("returns a definite error at once, without retrying", async () => {
    let calls = 0;
    const result = await sendSafely(
      async () => {
        calls++;
        throw new ConnectError("amount_cents must be positive", Code.InvalidArgument);
      },
      { maxAttempts: 4, baseDelayMs: 100, sleep: noSleep },
    );
    expect(calls).toBe(1);
    expect(result).toEqual({
      kind: "failed",
      attempts: 1,
      failure: {
        status: "INVALID_ARGUMENT",
        message: "amount_cents must be positive",
        outcomeUnknown: false,
      },
    });
  });

  it("gives up after the last attempt, saying the outcome is unknown", async () => {
    let calls = 0;
    const result = await sendSafely(
      async () => {
        calls++;
        throw new ConnectError("database unavailable", Code.Unavailable);
      },
      { maxAttempts: 3, baseDelayMs: 1, sleep: noSleep },
    );
    expect(calls).toBe(3);
    expect(result).toMatchObject({ kind: "failed", attempts: 3, failure: { outcomeUnknown: true } });
  });

  it("names statuses the way gRPC does and never shows a raw exception", () => {
    expect(describeRpcError(new ConnectError("gone", Code.DeadlineExceeded))).toEqual({
      status: "DEADLINE_EXCEEDED",
      message: "gone",
      outcomeUnknown: true,
    });
    expect(describeRpcError(networkError())).toMatchObject({ status: "UNKNOWN", outcomeUnknown: true });
    expect(describeRpcError(new Error("boom"))).toEqual({
      status: "UNKNOWN",
      message: "boom",
      outcomeUnknown: false,
    });
    expect(describeRpcError(new ConnectError("no", Code.PermissionDenied)).status).toBe("PERMISSION_DENIED");
  });
});
