import { describe, expect, it } from "vitest";
import { AccessPolicy, type LedgerReader } from "../../lib/api/access-policy.ts";
import { PermissionDeniedError } from "../../lib/auth/errors.ts";
import type { Principal } from "../../lib/auth/principal.ts";
import { InvalidArgumentError, NotFoundError, ServiceError } from "../../lib/errors.ts";
import type { Account, AuthorizePaymentCommand, Payment } from "../../lib/payments/model.ts";

const ids = {
  alice: "01ARZ3NDEKTSV4RRFFQ69G5FA1",
  bob: "01ARZ3NDEKTSV4RRFFQ69G5FA2",
  treasury: "01ARZ3NDEKTSV4RRFFQ69G5FA3",
  unknown: "01ARZ3NDEKTSV4RRFFQ69G5FA9",
  payment: "01ARZ3NDEKTSV4RRFFQ69G5FP1",
  funding: "01ARZ3NDEKTSV4RRFFQ69G5FP2",
};

const account = (accountId: string, owner: string, system = false): Account => ({
  accountId,
  owner,
  currency: "EUR",
  system,
  createdAt: "2024-01-01T00:00:00.000Z",
  hot: false,
});

const payment = (paymentId: string, payer: string, payee: string): Payment => ({
  paymentId,
  payerAccountId: payer,
  payeeAccountId: payee,
  amountCents: 1n,
  currency: "EUR",
  status: "AUTHORIZED",
  description: "",
  createdAt: "2024-01-01T00:00:00.000Z",
  updatedAt: "2024-01-01T00:00:00.000Z",
  capturedCents: 1n,
  refundedCents: 0n,
});

// An in-memory stand-in for PaymentService's reads: the policy is pure logic over them.
const accounts = new Map([
  [ids.alice, account(ids.alice, "alice")],
  [ids.bob, account(ids.bob, "bob")],
  [ids.treasury, account(ids.treasury, "treasury", true)],
]);
const payments = new Map([
  [ids.payment, payment(ids.payment, ids.alice, ids.bob)],
  [ids.funding, payment(ids.funding, ids.treasury, ids.alice)],
]);
const reader: LedgerReader = {
  async getAccount(id) {
    const found = accounts.get(id);
    if (!found) throw new NotFoundError("account", id);
    return found;
  },
  async getPayment(id) {
    const found = payments.get(id);
    if (!found) throw new NotFoundError("payment", id);
    return found;
  },
};
const policy = new AccessPolicy(reader);

const alice: Principal = { subject: "alice", operator: false, validUntilMs: Number.MAX_SAFE_INTEGER };
const bob: Principal = { subject: "bob", operator: false, validUntilMs: Number.MAX_SAFE_INTEGER };
const mallory: Principal = { subject: "mallory", operator: false, validUntilMs: Number.MAX_SAFE_INTEGER };
const operator: Principal = { subject: "ops", operator: true, validUntilMs: Number.MAX_SAFE_INTEGER };
const treasuryOwner: Principal = {
  subject: "treasury",
  operator: false,
  validUntilMs: Number.MAX_SAFE_INTEGER,
};

const pay = (payer: string): AuthorizePaymentCommand => ({
  idempotencyKey: "k",
  payerAccountId: payer,
  payeeAccountId: ids.bob,
  amountCents: 1n,
  currency: "EUR",
  description: "",
});

async function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "ok",
    (e: unknown) => (e instanceof ServiceError ? e.code : "bug"),
  );
}

describe("paying", () => {
  it.each([
    ["the owner, from their account", alice, ids.alice, "ok"],
    ["someone else, from it", bob, ids.alice, "PERMISSION_DENIED"],
    ["an operator, from a customer's account", operator, ids.alice, "PERMISSION_DENIED"],
    ["an operator, from a system account", operator, ids.treasury, "ok"],
    ["a system account's nominal owner who is no operator", treasuryOwner, ids.treasury, "PERMISSION_DENIED"],
    ["anyone, from an unknown account", mallory, ids.unknown, "PERMISSION_DENIED"],
    ["an operator, from an unknown account", operator, ids.unknown, "PERMISSION_DENIED"],
  ])("%s -> %s", async (_name, principal, payer, expected) => {
    expect(await outcome(policy.checkAuthorizePayment(principal, pay(payer)))).toBe(expected);
  });

  it("refuses an invalid request with INVALID_ARGUMENT before any lookup", async () => {
    const lookups: string[] = [];
    const counting = new AccessPolicy({
      getAccount: (id) => {
        lookups.push(id);
        return reader.getAccount(id);
      },
      getPayment: (id) => reader.getPayment(id),
    });

    await expect(
      counting.checkAuthorizePayment(mallory, { ...pay("nope"), amountCents: 0n }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(lookups).toEqual([]);
    await expect(counting.checkAuthorizePayment(mallory, pay(ids.alice))).rejects.toBeInstanceOf(
      PermissionDeniedError,
    );
    expect(lookups).toEqual([ids.alice]);
  });

  it("says the same about an unknown account as about someone else's", async () => {
    const messageFor = (id: string) =>
      policy.checkAuthorizePayment(mallory, pay(id)).then(
        () => "",
        (e: Error) => e.message.replace(id, "<id>"),
      );
    expect(await messageFor(ids.unknown)).toBe(await messageFor(ids.alice));
  });
});

describe("reading", () => {
  it.each([
    [alice, ids.alice, "ok"],
    [bob, ids.alice, "PERMISSION_DENIED"],
    [operator, ids.alice, "PERMISSION_DENIED"],
    [operator, ids.treasury, "ok"],
    [alice, ids.treasury, "PERMISSION_DENIED"],
    [alice, ids.unknown, "NOT_FOUND"],
  ])("account: %o reading %s -> %s", async (principal, id, expected) => {
    expect(await outcome(policy.readableAccount(principal, id))).toBe(expected);
  });

  it.each([
    [alice, ids.payment, "ok"],
    [bob, ids.payment, "ok"],
    [mallory, ids.payment, "PERMISSION_DENIED"],
    [operator, ids.payment, "PERMISSION_DENIED"],
    [operator, ids.funding, "ok"],
    [alice, ids.funding, "ok"],
    [bob, ids.funding, "PERMISSION_DENIED"],
    [alice, ids.unknown, "NOT_FOUND"],
  ])("payment: %o reading %s -> %s", async (principal, id, expected) => {
    expect(await outcome(policy.readablePayment(principal, id))).toBe(expected);
  });
});

describe("opening accounts", () => {
  it("fills an empty owner with the caller", () => {
    expect(policy.accountToOpen(alice, { owner: "", currency: "EUR", system: false }).owner).toBe("alice");
    expect(policy.accountToOpen(operator, { owner: "", currency: "EUR", system: true }).owner).toBe("ops");
  });

  it("lets operators open any account for anyone", () => {
    expect(policy.accountToOpen(operator, { owner: "bob", currency: "EUR", system: true })).toEqual({
      owner: "bob",
      currency: "EUR",
      system: true,
    });
  });

  it("lets others open only non-system accounts for themselves", () => {
    expect(policy.accountToOpen(alice, { owner: "alice", currency: "EUR", system: false }).owner).toBe(
      "alice",
    );
    expect(() => policy.accountToOpen(alice, { owner: "", currency: "EUR", system: true })).toThrow(
      PermissionDeniedError,
    );
    expect(() => policy.accountToOpen(alice, { owner: "bob", currency: "EUR", system: false })).toThrow(
      PermissionDeniedError,
    );
  });

  it("lets only operators mark an account hot", () => {
    expect(() =>
      policy.accountToOpen(alice, { owner: "alice", currency: "EUR", system: false, hot: true }),
    ).toThrow("only operators may open hot accounts");
    expect(
      policy.accountToOpen(operator, { owner: "shop", currency: "EUR", system: false, hot: true }),
    ).toEqual({
      owner: "shop",
      currency: "EUR",
      system: false,
      hot: true,
    });
  });
});
