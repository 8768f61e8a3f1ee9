import { describe, expect, it } from "vitest";
import { schemaNameFor } from "../../lib/events/envelope.ts";
import { requestHash } from "../../lib/payments/request-hash.ts";
import { validateListEntries } from "../../lib/payments/validation.ts";

const cmd = {
  idempotencyKey: "k",
  payerAccountId: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
  payeeAccountId: "01BX5ZZKBKACTAV9WEVGEMMVRZ",
  amountCents: 100n,
  currency: "EUR",
  description: "a",
};

describe("request hash", () => {
  it("is stable for the same request and differs when any promised field differs", () => {
    expect(requestHash(cmd)).toBe(requestHash({ ...cmd }));
    expect(requestHash({ ...cmd, idempotencyKey: "other" })).toBe(requestHash(cmd));
    for (const change of [
      { amountCents: 101n },
      { currency: "USD" },
      { description: "b" },
      { payerAccountId: cmd.payeeAccountId, payeeAccountId: cmd.payerAccountId },
    ]) {
      expect(requestHash({ ...cmd, ...change })).not.toBe(requestHash(cmd));
    }
  });

  it("cannot be forged by moving text between fields", () => {
    expect(requestHash({ ...cmd, currency: "EU", description: "Ra" })).not.toBe(
      requestHash({ ...cmd, currency: "EUR", description: "a" }),
    );
  });
});

describe("page size", () => {
  it("defaults 0 to 50 and accepts 1..100", () => {
    const q = { accountId: cmd.payerAccountId, pageToken: "" };
    expect(validateListEntries({ ...q, pageSize: 0 })).toBe(50);
    expect(validateListEntries({ ...q, pageSize: 1 })).toBe(1);
    expect(validateListEntries({ ...q, pageSize: 100 })).toBe(100);
    expect(() => validateListEntries({ ...q, pageSize: 101 })).toThrow(/page_size/);
  });
});

describe("schema names", () => {
  it("follow the event type", () => {
    expect(schemaNameFor("PaymentAuthorized")).toBe("payment_authorized");
    expect(schemaNameFor("PaymentDeclined")).toBe("payment_declined");
  });
});
