/**
 * Authentication (bearer JWT) and ownership rules through the real handler
 * and a real ledger: every refusal has its precise code and writes nothing.
 */
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { SignJWT } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { PaymentService, PaymentStatus } from "../../lib/gen/payment/v1/payment_pb.ts";
import type { Account } from "../../lib/payments/model.ts";
import { type LambdaHttpServer, serveLambda } from "../../tools/local-services/lambda-http.ts";
import { type ApiFixture, apiFixture, TEST_AUTH } from "../support/api.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { type TableCounts, tableCounts, uniqueKey } from "../support/ledger.ts";

let api: ApiFixture;
let server: LambdaHttpServer;
let client: Client<typeof PaymentService>;
let alice: Account;
let bob: Account;
let treasury: Account;
let alicePaymentId: string;
let before: TableCounts;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  api = await apiFixture();
  server = await serveLambda(api.handler);
  client = createClient(
    PaymentService,
    createGrpcWebTransport({ baseUrl: server.url, useBinaryFormat: true }),
  );
  alice = await api.fx.openFundedAccount(5_000n, "EUR", "alice");
  bob = await api.fx.openFundedAccount(5_000n, "EUR", "bob");
  treasury = await api.fx.systemAccount("EUR");
  tokens.alice = await api.token("alice");
  tokens.bob = await api.token("bob");
  tokens.mallory = await api.token("mallory");
  tokens.operator = await api.token("ops-1", { operator: true });
  alicePaymentId = (
    await api.fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 10n,
      currency: "EUR",
      description: "",
    })
  ).paymentId;
});
afterAll(async () => {
  await server?.close();
  await api?.close();
});
// Every test here moves money through the real path: the ledger keeps every invariant after each.
checkInvariantsAfterEach(() => api?.fx.pool);
beforeEach(async () => {
  before = await tableCounts(api.fx.pool);
});

const as = (token: string | undefined) => ({ headers: token === undefined ? {} : { authorization: token } });
const bearer = (token: string) => `Bearer ${token}`;

async function failure(promise: Promise<unknown>): Promise<{ code: Code | "ok"; message: string }> {
  try {
    await promise;
    return { code: "ok", message: "" };
  } catch (error) {
    const e = ConnectError.from(error);
    return { code: e.code, message: e.rawMessage };
  }
}

function payFrom(payer: string, token: string | undefined) {
  return client.authorizePayment(
    {
      idempotencyKey: uniqueKey(),
      payerAccountId: payer,
      payeeAccountId: bob.accountId,
      amountCents: 1n,
      currency: "EUR",
    },
    as(token),
  );
}

async function sign(
  claims: Record<string, unknown>,
  options: { secret?: string; exp?: string | number; iss?: string; aud?: string; alg?: string } = {},
) {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? "HS256" })
    .setSubject("alice")
    .setIssuer(options.iss ?? TEST_AUTH.issuer)
    .setAudience(options.aud ?? TEST_AUTH.audience)
    .setIssuedAt();
  if (options.exp !== undefined) jwt.setExpirationTime(options.exp);
  else jwt.setExpirationTime("10m");
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_AUTH.secret));
}

describe("authentication: UNAUTHENTICATED and nothing written", () => {
  it.each<[string, () => Promise<string | undefined>, string]>([
    ["missing", async () => undefined, "missing credentials"],
    ["not a bearer scheme", async () => `Basic ${Buffer.from("alice:pw").toString("base64")}`, "Bearer"],
    ["garbage", async () => bearer("not.a.jwt"), "invalid token"],
    ["expired", async () => bearer(await sign({}, { exp: Math.floor(Date.now() / 1000) - 3600 })), "expired"],
    ["wrong audience", async () => bearer(await sign({}, { aud: "someone-else" })), "audience"],
    ["wrong issuer", async () => bearer(await sign({}, { iss: "https://evil.example" })), "issuer"],
    [
      "wrong signature",
      async () => bearer(await sign({}, { secret: "another-secret-of-enough-length-0123456789" })),
      "signature",
    ],
    [
      "no expiry",
      async () =>
        bearer(
          await new SignJWT({})
            .setProtectedHeader({ alg: "HS256" })
            .setSubject("alice")
            .setIssuer(TEST_AUTH.issuer)
            .setAudience(TEST_AUTH.audience)
            .sign(new TextEncoder().encode(TEST_AUTH.secret)),
        ),
      "exp",
    ],
    [
      "unsigned (alg none)",
      async () => {
        const valid = await signLocalToken(TEST_AUTH, { subject: "alice" });
        const [, payload] = valid.split(".");
        return bearer(`${Buffer.from('{"alg":"none"}').toString("base64url")}.${payload}.`);
      },
      "invalid token",
    ],
  ])("%s token", async (_name, makeHeader, messagePart) => {
    const header = await makeHeader();
    const result = await failure(payFrom(alice.accountId, header));
    expect(result.code).toBe(Code.Unauthenticated);
    expect(result.message).toContain(messagePart);
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });
});

describe("ownership: PERMISSION_DENIED and nothing written", () => {
  it("paying from someone else's account", async () => {
    expect((await failure(payFrom(alice.accountId, bearer(tokens.mallory ?? "")))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await failure(payFrom(alice.accountId, bearer(tokens.bob ?? "")))).code).toBe(
      Code.PermissionDenied,
    );
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });

  it("an operator paying from a customer's account", async () => {
    expect((await failure(payFrom(alice.accountId, bearer(tokens.operator ?? "")))).code).toBe(
      Code.PermissionDenied,
    );
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });

  it("a customer paying from a system account", async () => {
    expect((await failure(payFrom(treasury.accountId, bearer(tokens.alice ?? "")))).code).toBe(
      Code.PermissionDenied,
    );
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });

  it("an unknown payer account looks exactly like someone else's: no probing, no recorded decline", async () => {
    const unknown = await failure(payFrom("01ARZ3NDEKTSV4RRFFQ69G5FAV", bearer(tokens.mallory ?? "")));
    const foreign = await failure(payFrom(alice.accountId, bearer(tokens.mallory ?? "")));
    expect(unknown.code).toBe(Code.PermissionDenied);
    expect(unknown.message.replace("01ARZ3NDEKTSV4RRFFQ69G5FAV", "X")).toBe(
      foreign.message.replace(alice.accountId, "X"),
    );
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });

  it("reading someone else's balance, statement or payment", async () => {
    const mallory = as(bearer(tokens.mallory ?? ""));
    expect((await failure(client.getAccountBalance({ accountId: alice.accountId }, mallory))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await failure(client.listLedgerEntries({ accountId: alice.accountId }, mallory))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await failure(client.getPayment({ paymentId: alicePaymentId }, mallory))).code).toBe(
      Code.PermissionDenied,
    );
    // Operators act for system accounts, not for customers.
    const operator = as(bearer(tokens.operator ?? ""));
    expect((await failure(client.getAccountBalance({ accountId: alice.accountId }, operator))).code).toBe(
      Code.PermissionDenied,
    );
  });

  it("a non-operator opening a system account, or an account for someone else", async () => {
    const alice = as(bearer(tokens.alice ?? ""));
    expect((await failure(client.createAccount({ currency: "EUR", system: true }, alice))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await failure(client.createAccount({ owner: "bob", currency: "EUR" }, alice))).code).toBe(
      Code.PermissionDenied,
    );
    const hot = await failure(client.createAccount({ currency: "EUR", hot: true }, alice));
    expect([hot.code, hot.message]).toEqual([Code.PermissionDenied, "only operators may open hot accounts"]);
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });
});

describe("what callers may do", () => {
  it("payer and payee owners read the payment; owners read their own accounts", async () => {
    for (const token of [tokens.alice, tokens.bob]) {
      const got = await client.getPayment({ paymentId: alicePaymentId }, as(bearer(token ?? "")));
      expect(got.payment?.paymentId).toBe(alicePaymentId);
    }
    const entries = await client.listLedgerEntries(
      { accountId: bob.accountId },
      as(bearer(tokens.bob ?? "")),
    );
    expect(entries.entries.length).toBeGreaterThan(0);
  });

  it("operators open system accounts for anyone and fund from them, and read them", async () => {
    const operator = as(bearer(tokens.operator ?? ""));
    const system = await client.createAccount(
      { owner: "treasury-gbp", currency: "GBP", system: true },
      operator,
    );
    const carol = await client.createAccount({ owner: "carol", currency: "GBP" }, operator);
    const funded = await client.authorizePayment(
      {
        idempotencyKey: uniqueKey(),
        payerAccountId: system.account?.accountId ?? "",
        payeeAccountId: carol.account?.accountId ?? "",
        amountCents: 700n,
        currency: "GBP",
      },
      operator,
    );
    expect(funded.status).toBe(PaymentStatus.AUTHORIZED);
    const systemBalance = await client.getAccountBalance(
      { accountId: system.account?.accountId ?? "" },
      operator,
    );
    expect(systemBalance.availableBalanceCents).toBe(-700n);
    const carolToken = await api.token("carol");
    const carolBalance = await client.getAccountBalance(
      { accountId: carol.account?.accountId ?? "" },
      as(bearer(carolToken)),
    );
    expect(carolBalance.availableBalanceCents).toBe(700n);
  });

  it("operators open hot accounts; their owner reads an exact balance and credits without balance after", async () => {
    const operator = as(bearer(tokens.operator ?? ""));
    const opened = await client.createAccount({ owner: "shop", currency: "EUR", hot: true }, operator);
    expect(opened.account).toMatchObject({ owner: "shop", hot: true, system: false });
    const shopId = opened.account?.accountId ?? "";
    const paid = await client.authorizePayment(
      {
        idempotencyKey: uniqueKey(),
        payerAccountId: alice.accountId,
        payeeAccountId: shopId,
        amountCents: 25n,
        currency: "EUR",
      },
      as(bearer(tokens.alice ?? "")),
    );
    expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
    const shop = as(bearer(await api.token("shop")));
    expect((await client.getAccountBalance({ accountId: shopId }, shop)).availableBalanceCents).toBe(25n);
    const { entries } = await client.listLedgerEntries({ accountId: shopId }, shop);
    expect(entries.map((e) => [e.amountCents, e.balanceAfterCents])).toEqual([[25n, undefined]]);
  });

  it("recognises the operator scope among other scopes", async () => {
    const token = await sign({ scope: `openid ${TEST_AUTH.operatorScope} profile` });
    const created = await client.createAccount(
      { owner: "dan", currency: "EUR", system: true },
      as(bearer(token)),
    );
    expect(created.account?.system).toBe(true);
  });
});
