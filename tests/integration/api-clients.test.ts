/**
 * Real, independent gRPC-web clients against the api handler served over
 * HTTP on localhost: connect-web (binary mode, Node's fetch), buf curl (the
 * Go gRPC-web client), and a hand-built grpc-web-text exchange (the mode
 * Google's grpc-web client uses by default).
 */
import { execFile } from "node:child_process";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EntryDirection,
  GetAccountBalanceRequestSchema,
  GetAccountBalanceResponseSchema,
  PaymentErrorCode,
  PaymentService,
  PaymentStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import { frame } from "../../tools/local-services/grpc-web-events.ts";
import { type LambdaHttpServer, serveLambda } from "../../tools/local-services/lambda-http.ts";
import { type ApiFixture, apiFixture } from "../support/api.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { tableCounts, uniqueKey } from "../support/ledger.ts";

let api: ApiFixture;
let server: LambdaHttpServer;
let operator: string;
let alice: string;
let bob: string;

beforeAll(async () => {
  api = await apiFixture();
  server = await serveLambda(api.handler);
  [operator, alice, bob] = await Promise.all([
    api.token("ops-1", { operator: true }),
    api.token("alice"),
    api.token("bob"),
  ]);
});
afterAll(async () => {
  await server?.close();
  await api?.close();
});
// Every test here moves money through the real path: the ledger keeps every invariant after each.
checkInvariantsAfterEach(() => api?.fx.pool);

const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

async function codeOf(promise: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe("connect-web gRPC-web transport (binary)", () => {
  let client: Client<typeof PaymentService>;
  beforeAll(() => {
    client = createClient(
      PaymentService,
      createGrpcWebTransport({ baseUrl: server.url, useBinaryFormat: true }),
    );
  });

  it("opens accounts as operator, funds, pays, and reads payment, balance and statement", async () => {
    const treasury = await client.createAccount(
      { owner: "treasury", currency: "EUR", system: true },
      auth(operator),
    );
    const aliceAccount = await client.createAccount({ owner: "alice", currency: "EUR" }, auth(operator));
    // Anyone may open a plain account for themselves; owner defaults to the caller.
    const bobAccount = await client.createAccount({ currency: "EUR" }, auth(bob));
    expect(treasury.account).toMatchObject({ owner: "treasury", system: true, currency: "EUR" });
    expect(bobAccount.account).toMatchObject({ owner: "bob", system: false });
    const treasuryId = treasury.account?.accountId ?? "";
    const aliceId = aliceAccount.account?.accountId ?? "";
    const bobId = bobAccount.account?.accountId ?? "";

    const funded = await client.authorizePayment(
      {
        idempotencyKey: uniqueKey("fund"),
        payerAccountId: treasuryId,
        payeeAccountId: aliceId,
        amountCents: 10_000n,
        currency: "EUR",
        description: "top-up",
      },
      auth(operator),
    );
    expect(funded.status).toBe(PaymentStatus.AUTHORIZED);

    const key = uniqueKey("pay");
    const payment = {
      idempotencyKey: key,
      payerAccountId: aliceId,
      payeeAccountId: bobId,
      amountCents: 2_500n,
      currency: "EUR",
      description: "rent share",
    };
    const paid = await client.authorizePayment(payment, auth(alice));
    expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
    expect(paid.processedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const replay = await client.authorizePayment(payment, auth(alice));
    expect(replay).toMatchObject({ paymentId: paid.paymentId, status: PaymentStatus.DUPLICATE });

    const got = await client.getPayment({ paymentId: paid.paymentId }, auth(alice));
    expect(got.payment).toMatchObject({
      paymentId: paid.paymentId,
      payerAccountId: aliceId,
      payeeAccountId: bobId,
      amountCents: 2_500n,
      status: PaymentStatus.AUTHORIZED,
      description: "rent share",
    });
    // The payee's owner may read it too.
    expect((await client.getPayment({ paymentId: paid.paymentId }, auth(bob))).payment?.paymentId).toBe(
      paid.paymentId,
    );

    const balance = await client.getAccountBalance({ accountId: aliceId }, auth(alice));
    expect(balance).toMatchObject({ accountId: aliceId, availableBalanceCents: 7_500n, currency: "EUR" });

    const statement = await client.listLedgerEntries({ accountId: aliceId, pageSize: 1 }, auth(alice));
    expect(statement.entries).toHaveLength(1);
    expect(statement.entries[0]).toMatchObject({
      paymentId: paid.paymentId,
      direction: EntryDirection.DEBIT,
      amountCents: 2_500n,
      balanceAfterCents: 7_500n,
    });
    const next = await client.listLedgerEntries(
      { accountId: aliceId, pageSize: 1, pageToken: statement.nextPageToken },
      auth(alice),
    );
    expect(next.entries[0]).toMatchObject({ direction: EntryDirection.CREDIT, amountCents: 10_000n });

    const declined = await client.authorizePayment(
      { ...payment, idempotencyKey: uniqueKey("big"), amountCents: 1_000_000n },
      auth(alice),
    );
    expect(declined.status).toBe(PaymentStatus.DECLINED);
    expect(declined.error?.code).toBe(PaymentErrorCode.INSUFFICIENT_FUNDS);
  });

  it("sees precise gRPC codes, and refused calls write nothing", async () => {
    const mine = await client.createAccount({ currency: "EUR" }, auth(alice));
    const theirs = await client.createAccount({ currency: "EUR" }, auth(bob));
    const mineId = mine.account?.accountId ?? "";
    const theirsId = theirs.account?.accountId ?? "";
    const pay = {
      idempotencyKey: uniqueKey(),
      payerAccountId: mineId,
      payeeAccountId: theirsId,
      amountCents: 1n,
      currency: "EUR",
    };
    const before = await tableCounts(api.fx.pool);

    expect(await codeOf(client.authorizePayment(pay))).toBe(Code.Unauthenticated);
    expect(await codeOf(client.authorizePayment({ ...pay, amountCents: 0n }, auth(alice)))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(client.authorizePayment(pay, auth(bob)))).toBe(Code.PermissionDenied);
    expect(await codeOf(client.getAccountBalance({ accountId: theirsId }, auth(alice)))).toBe(
      Code.PermissionDenied,
    );
    expect(await codeOf(client.getPayment({ paymentId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" }, auth(alice)))).toBe(
      Code.NotFound,
    );
    expect(await codeOf(client.getAccountBalance({ accountId: "not-a-ulid" }, auth(alice)))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(client.createAccount({ currency: "EUR", system: true }, auth(alice)))).toBe(
      Code.PermissionDenied,
    );
    expect(await tableCounts(api.fx.pool)).toEqual(before);

    // A recorded decline (no funds) still owns its key: other parameters under it are refused.
    const key = uniqueKey("conflict");
    const declined = await client.authorizePayment({ ...pay, idempotencyKey: key }, auth(alice));
    expect(declined.error?.code).toBe(PaymentErrorCode.INSUFFICIENT_FUNDS);
    expect(
      await codeOf(client.authorizePayment({ ...pay, idempotencyKey: key, amountCents: 2n }, auth(alice))),
    ).toBe(Code.AlreadyExists);
  });
});

interface CurlResult {
  exitCode: number;
  json: Record<string, unknown>;
}

/** buf curl exits with the gRPC code times 8 and prints the error as JSON on stderr. */
function bufCurl(method: string, body: object, token?: string): Promise<CurlResult> {
  const args = ["curl", "--protocol", "grpcweb", "--schema", "proto", "-d", JSON.stringify(body)];
  if (token) args.push("-H", `authorization: Bearer ${token}`);
  args.push(`${server.url}/payment.v1.PaymentService/${method}`);
  return new Promise((resolve, reject) => {
    execFile("node_modules/.bin/buf", args, { timeout: 30_000 }, (error, stdout, stderr) => {
      const exitCode = error ? Number((error as NodeJS.ErrnoException).code ?? -1) : 0;
      const text = exitCode === 0 ? stdout : stderr;
      try {
        resolve({ exitCode, json: JSON.parse(text) as Record<string, unknown> });
      } catch {
        reject(new Error(`buf curl ${method} exited ${exitCode}: ${stdout} ${stderr}`));
      }
    });
  });
}

describe("buf curl --protocol grpcweb", () => {
  it("completes every call and reports gRPC error codes", async () => {
    const system = await bufCurl(
      "CreateAccount",
      { owner: "treasury", currency: "USD", system: true },
      operator,
    );
    expect(system.exitCode).toBe(0);
    const systemId = (system.json.account as { accountId: string }).accountId;
    const carol = await bufCurl("CreateAccount", { owner: "carol", currency: "USD" }, operator);
    const carolId = (carol.json.account as { accountId: string }).accountId;
    const dave = await bufCurl("CreateAccount", { currency: "USD" }, bob);
    const daveId = (dave.json.account as { accountId: string }).accountId;
    const carolToken = await api.token("carol");

    const fund = await bufCurl(
      "AuthorizePayment",
      {
        idempotencyKey: uniqueKey(),
        payerAccountId: systemId,
        payeeAccountId: carolId,
        amountCents: "900",
        currency: "USD",
      },
      operator,
    );
    expect(fund.json).toMatchObject({ status: "PAYMENT_STATUS_AUTHORIZED" });
    const pay = await bufCurl(
      "AuthorizePayment",
      {
        idempotencyKey: uniqueKey(),
        payerAccountId: carolId,
        payeeAccountId: daveId,
        amountCents: "400",
        currency: "USD",
        description: "lunch",
      },
      carolToken,
    );
    expect(pay.exitCode).toBe(0);
    expect(pay.json).toMatchObject({ status: "PAYMENT_STATUS_AUTHORIZED" });

    const got = await bufCurl("GetPayment", { paymentId: pay.json.paymentId }, carolToken);
    expect(got.json.payment).toMatchObject({ amountCents: "400", currency: "USD", description: "lunch" });
    const balance = await bufCurl("GetAccountBalance", { accountId: carolId }, carolToken);
    expect(balance.json).toMatchObject({ accountId: carolId, availableBalanceCents: "500", currency: "USD" });
    const entries = await bufCurl("ListLedgerEntries", { accountId: carolId }, carolToken);
    expect((entries.json.entries as unknown[]).length).toBe(2);

    const denied = await bufCurl("GetAccountBalance", { accountId: carolId }, bob);
    expect(denied).toMatchObject({
      exitCode: Code.PermissionDenied * 8,
      json: { code: "permission_denied" },
    });
    const anonymous = await bufCurl("GetAccountBalance", { accountId: carolId });
    expect(anonymous).toMatchObject({
      exitCode: Code.Unauthenticated * 8,
      json: { code: "unauthenticated" },
    });
    const invalid = await bufCurl("GetPayment", { paymentId: "nope" }, carolToken);
    expect(invalid).toMatchObject({ exitCode: Code.InvalidArgument * 8, json: { code: "invalid_argument" } });
    const system2 = await bufCurl("CreateAccount", { currency: "USD", system: true }, carolToken);
    expect(system2.json).toMatchObject({ code: "permission_denied" });
  });
});

describe("grpc-web-text (hand-built, base64 both ways)", () => {
  async function textCall(path: string, body: string, token?: string): Promise<Response> {
    return fetch(`${server.url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/grpc-web-text",
        accept: "application/grpc-web-text",
        "x-grpc-web": "1",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body,
    });
  }

  function decodeText(text: string): { messages: Uint8Array[]; trailer: string } {
    const bytes = Buffer.from(text, "base64");
    const messages: Uint8Array[] = [];
    let trailer = "";
    for (let offset = 0; offset + 5 <= bytes.length; ) {
      const length = bytes.readUInt32BE(offset + 1);
      const payload = bytes.subarray(offset + 5, offset + 5 + length);
      if (bytes[offset] === 0x80) trailer = payload.toString("utf8");
      else messages.push(payload);
      offset += 5 + length;
    }
    return { messages, trailer };
  }

  it("answers a text-mode call in text mode, also when the body comes in separately padded chunks", async () => {
    const account = await api.fx.openFundedAccount(1_234n, "EUR", "alice");
    const request = frame(
      toBinary(
        GetAccountBalanceRequestSchema,
        create(GetAccountBalanceRequestSchema, { accountId: account.accountId }),
      ),
    );
    for (const body of [
      Buffer.from(request).toString("base64"),
      // Two chunks, each base64 with its own padding, as streaming text clients send.
      Buffer.from(request.subarray(0, 4)).toString("base64") +
        Buffer.from(request.subarray(4)).toString("base64"),
    ]) {
      const response = await textCall("/payment.v1.PaymentService/GetAccountBalance", body, alice);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/grpc-web-text+proto");
      const { messages, trailer } = decodeText(await response.text());
      expect(trailer).toContain("grpc-status: 0");
      expect(messages).toHaveLength(1);
      const balance = fromBinary(GetAccountBalanceResponseSchema, messages[0] as Uint8Array);
      expect(balance.availableBalanceCents).toBe(1_234n);
    }
  });

  it("reports errors in text mode too", async () => {
    const account = await api.fx.openFundedAccount(0n, "EUR", "bob");
    const request = frame(
      toBinary(
        GetAccountBalanceRequestSchema,
        create(GetAccountBalanceRequestSchema, { accountId: account.accountId }),
      ),
    );
    const response = await textCall(
      "/payment.v1.PaymentService/GetAccountBalance",
      Buffer.from(request).toString("base64"),
      alice,
    );
    const { trailer } = decodeText(await response.text());
    expect(trailer).toContain(`grpc-status: ${Code.PermissionDenied}`);

    const garbage = await textCall("/payment.v1.PaymentService/GetAccountBalance", "not base64!", alice);
    expect(garbage.headers.get("grpc-status")).toBe(String(Code.InvalidArgument));
  });
});
