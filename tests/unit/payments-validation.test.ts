import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../lib/errors.ts";
import { MAX_AMOUNT_CENTS } from "../../lib/payments/model.ts";
import { requestHash } from "../../lib/payments/request-hash.ts";
import { validateAuthorizePayment, validateListEntries } from "../../lib/payments/validation.ts";
import definitions from "../../schemas/definitions.json" with { type: "json" };

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

describe("amounts", () => {
  // An event carries the amount as a JSON number, which every consumer reads
  // exactly only up to 2^53-1: a larger payment is refused before it reaches
  // the ledger, so no event can be inexact or break its schema.
  it("are the events' amounts: 1 to 2^53-1, as schemas/definitions.json bounds them", () => {
    expect(MAX_AMOUNT_CENTS).toBe(2n ** 53n - 1n);
    expect(BigInt(definitions.definitions.amount_cents.maximum)).toBe(MAX_AMOUNT_CENTS);
    expect(BigInt(definitions.definitions.amount_cents.minimum)).toBe(1n);
  });

  it("refuses 0 and anything above 2^53-1 with INVALID_ARGUMENT on amount_cents, accepts the edges", () => {
    for (const amountCents of [0n, -1n, MAX_AMOUNT_CENTS + 1n, 2n ** 63n - 1n]) {
      expect(() => validateAuthorizePayment({ ...cmd, amountCents })).toThrow(InvalidArgumentError);
      expect(() => validateAuthorizePayment({ ...cmd, amountCents })).toThrow(/amount_cents/);
    }
    for (const amountCents of [1n, MAX_AMOUNT_CENTS]) {
      expect(() => validateAuthorizePayment({ ...cmd, amountCents })).not.toThrow();
    }
  });
});
