/**
 * One owner never reads, blocks or learns about another owner's money, and a
 * call the client has given up on never moves it: each case goes through the
 * real handler (gRPC-web bytes in, bytes out) onto a real ledger database.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  AuthorizePaymentRequestSchema,
  AuthorizePaymentResponseSchema,
  ListLedgerEntriesRequestSchema,
  PaymentErrorCode,
  PaymentStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import type { Account } from "../../lib/payments/model.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";
import { type ApiFixture, apiFixture, invoke } from "../support/api.ts";
import { type TableCounts, tableCounts, uniqueKey } from "../support/ledger.ts";

const AUTHORIZE = "/payment.v1.PaymentService/AuthorizePayment";
const LIST_ENTRIES = "/payment.v1.PaymentService/ListLedgerEntries";

let api: ApiFixture;
let alice: Account;
let bob: Account;
let bobDollars: Account;
const tokens: Record<string, string> = {};
let before: TableCounts;

beforeAll(async () => {
  api = await apiFixture();
  alice = await api.fx.openFundedAccount(10_000n, "EUR", "alice");
  bob = await api.fx.openFundedAccount(10_000n, "EUR", "bob");
  bobDollars = await api.fx.openFundedAccount(0n, "USD", "bob");
  tokens.alice = await api.token("alice");
  tokens.bob = await api.token("bob");
  tokens.operator = await api.token("ops-1", { operator: true });
});
afterAll(async () => {
  await api?.close();
});
beforeEach(async () => {
  before = await tableCounts(api.fx.pool);
});

function authorizeBytes(overrides: Record<string, unknown>): Uint8Array {
  return toBinary(
    AuthorizePaymentRequestSchema,
    create(AuthorizePaymentRequestSchema, { amountCents: 1n, currency: "EUR", ...overrides }),
  );
}

function event(path: string, who: string, body: Uint8Array, headers: Record<string, string> = {}) {
  return grpcWebEvent(path, {
    body,
    headers: { authorization: `Bearer ${tokens[who]}`, ...headers },
  });
}

async function call(e: APIGatewayProxyEventV2) {
  return readGrpcWeb(await invoke(api.handler, e));
}

async function pay(who: string, overrides: Record<string, unknown>, headers: Record<string, string> = {}) {
  const outcome = await call(event(AUTHORIZE, who, frame(authorizeBytes(overrides)), headers));
  const message = outcome.messages[0];
  return {
    ...outcome,
    response: message ? fromBinary(AuthorizePaymentResponseSchema, message) : undefined,
  };
}

describe("idempotency keys are the caller's own", () => {
  it("two owners use the same key independently, in either order, and each replays only their own", async () => {
    const key = uniqueKey("order");
    const bobs = await pay("bob", {
      idempotencyKey: key,
      payerAccountId: bob.accountId,
      payeeAccountId: alice.accountId,
    });
    expect(bobs.code).toBe(0);
    expect(bobs.response?.status).toBe(PaymentStatus.AUTHORIZED);

    // Alice's first use of bob's key is a new payment of hers, not a conflict naming bob's.
    const alices = await pay("alice", {
      idempotencyKey: key,
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 2n,
    });
    expect(alices.code).toBe(0);
    expect(alices.response?.status).toBe(PaymentStatus.AUTHORIZED);
    expect(alices.response?.paymentId).not.toBe(bobs.response?.paymentId);

    // Each owner's replay returns their own payment.
    const bobAgain = await pay("bob", {
      idempotencyKey: key,
      payerAccountId: bob.accountId,
      payeeAccountId: alice.accountId,
    });
    expect(bobAgain.response).toMatchObject({
      status: PaymentStatus.DUPLICATE,
      paymentId: bobs.response?.paymentId,
    });
    const aliceAgain = await pay("alice", {
      idempotencyKey: key,
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 2n,
    });
    expect(aliceAgain.response).toMatchObject({
      status: PaymentStatus.DUPLICATE,
      paymentId: alices.response?.paymentId,
    });
  });

  it("a conflict names only the caller's own payment, never another owner's", async () => {
    const key = uniqueKey("conflict");
    const bobs = await pay("bob", {
      idempotencyKey: key,
      payerAccountId: bob.accountId,
      payeeAccountId: alice.accountId,
    });
    const alices = await pay("alice", {
      idempotencyKey: key,
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
    });
    const afterBoth = await tableCounts(api.fx.pool);
    const conflict = await pay("alice", {
      idempotencyKey: key,
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 3n,
    });
    expect(conflict.code).toBe(Code.AlreadyExists);
    expect(conflict.message).toContain(alices.response?.paymentId);
    expect(conflict.message).not.toContain(bobs.response?.paymentId);
    expect(await tableCounts(api.fx.pool)).toEqual(afterBoth);
  });

  it("funding keys of in-process callers (the demo seed) reveal nothing to a caller who guesses them", async () => {
    const key = `demo-seed-funding-${alice.accountId}`;
    const funding = await api.fx.service.authorizePayment({
      idempotencyKey: key,
      payerAccountId: (await api.fx.systemAccount("EUR")).accountId,
      payeeAccountId: alice.accountId,
      amountCents: 5n,
      currency: "EUR",
      description: "demo funding",
    });
    for (const who of ["bob", "operator"]) {
      const payer = who === "bob" ? bob.accountId : (await api.fx.systemAccount("EUR")).accountId;
      const guess = await pay(who, {
        idempotencyKey: key,
        payerAccountId: payer,
        payeeAccountId: alice.accountId,
        amountCents: 9n,
      });
      expect(guess.code).toBe(0);
      expect(guess.response?.paymentId).not.toBe(funding.paymentId);
      expect(JSON.stringify(guess)).not.toContain(funding.paymentId);
    }
  });

  it("an operator's keys are the operator's own: a customer reusing one is not refused", async () => {
    const key = uniqueKey("funding");
    const treasury = await api.fx.systemAccount("EUR");
    const funded = await pay("operator", {
      idempotencyKey: key,
      payerAccountId: treasury.accountId,
      payeeAccountId: bob.accountId,
    });
    expect(funded.response?.status).toBe(PaymentStatus.AUTHORIZED);
    const bobs = await pay("bob", {
      idempotencyKey: key,
      payerAccountId: bob.accountId,
      payeeAccountId: alice.accountId,
    });
    expect(bobs.response?.status).toBe(PaymentStatus.AUTHORIZED);
    expect(bobs.message).not.toContain(funded.response?.paymentId);
  });
});

describe("decline messages name nothing of another owner's account", () => {
  it("a payee account in another currency: CURRENCY_MISMATCH, without the payee's currency", async () => {
    const declined = await pay("alice", {
      idempotencyKey: uniqueKey(),
      payerAccountId: alice.accountId,
      payeeAccountId: bobDollars.accountId,
    });
    expect(declined.response?.status).toBe(PaymentStatus.DECLINED);
    expect(declined.response?.error?.code).toBe(PaymentErrorCode.CURRENCY_MISMATCH);
    expect(declined.response?.error?.message).not.toContain("USD");
  });

  it("a payee account that does not exist: ACCOUNT_NOT_FOUND, worded like any payee refusal", async () => {
    const missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const declined = await pay("alice", {
      idempotencyKey: uniqueKey(),
      payerAccountId: alice.accountId,
      payeeAccountId: missing,
    });
    expect(declined.response?.error?.code).toBe(PaymentErrorCode.ACCOUNT_NOT_FOUND);
    const mismatch = await pay("alice", {
      idempotencyKey: uniqueKey(),
      payerAccountId: alice.accountId,
      payeeAccountId: bobDollars.accountId,
    });
    // The text is the same whether the payee is missing or in another currency.
    expect(declined.response?.error?.message).toBe(mismatch.response?.error?.message);
    expect(declined.response?.error?.message).not.toContain(missing);
    expect(declined.response?.error?.message).not.toMatch(/not found|exist/i);
  });
});

describe("a call whose deadline has passed, or is too close, moves no money", () => {
  it.each(["1n", "1u", "1m", "5m", "20m"])(
    "grpc-timeout %s -> DEADLINE_EXCEEDED, nothing written",
    async (timeout) => {
      const outcome = await pay(
        "alice",
        { idempotencyKey: uniqueKey(), payerAccountId: alice.accountId, payeeAccountId: bob.accountId },
        { "grpc-timeout": timeout },
      );
      expect(outcome.code).toBe(Code.DeadlineExceeded);
      // Give an abandoned call time to commit, if it were going to.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await tableCounts(api.fx.pool)).toEqual(before);
    },
  );

  it("the Lambda's own remaining time counts as a deadline too (240 ms left, 200 ms margin: 40 ms, below the 50 ms a payment needs)", async () => {
    const body = frame(
      authorizeBytes({
        idempotencyKey: uniqueKey(),
        payerAccountId: alice.accountId,
        payeeAccountId: bob.accountId,
      }),
    );
    const outcome = readGrpcWeb(await api.handler(event(AUTHORIZE, "alice", body), lambdaContext(240)));
    expect(outcome.code).toBe(Code.DeadlineExceeded);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });

  it("a payment held up past its deadline inside Postgres aborts instead of committing later", async () => {
    const key = uniqueKey("late");
    const locker = await api.fx.pool.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("SELECT 1 FROM balances WHERE account_id = $1 FOR UPDATE", [alice.accountId]);
      const outcome = await pay(
        "alice",
        { idempotencyKey: key, payerAccountId: alice.accountId, payeeAccountId: bob.accountId },
        { "grpc-timeout": "300m" },
      );
      expect(outcome.code).toBe(Code.DeadlineExceeded);
      // Let the abandoned statement reach its lock timeout, still holding the lock.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await tableCounts(api.fx.pool)).toEqual(before);
    // Retrying with the same key is safe: it pays exactly once.
    const retry = await pay("alice", {
      idempotencyKey: key,
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
    });
    expect(retry.response?.status).toBe(PaymentStatus.AUTHORIZED);
    const again = await pay("alice", {
      idempotencyKey: key,
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
    });
    expect(again.response).toMatchObject({
      status: PaymentStatus.DUPLICATE,
      paymentId: retry.response?.paymentId,
    });
  });
});

describe("request bodies", () => {
  it("a data frame followed by a client trailer frame -> INVALID_ARGUMENT, nothing written", async () => {
    const data = frame(
      authorizeBytes({
        idempotencyKey: uniqueKey(),
        payerAccountId: alice.accountId,
        payeeAccountId: bob.accountId,
      }),
    );
    const trailer = frame(new TextEncoder().encode("grpc-status: 0\r\n"), { flags: 0x80 });
    const outcome = await call(event(AUTHORIZE, "alice", Buffer.concat([data, trailer])));
    expect(outcome.code).toBe(Code.InvalidArgument);
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });

  it("an empty body -> UNIMPLEMENTED, gRPC's code for a missing request message", async () => {
    const outcome = await call(event(AUTHORIZE, "alice", new Uint8Array(0)));
    expect(outcome.code).toBe(Code.Unimplemented);
    expect(outcome.message).toContain("request message");
  });

  it.each(["application/grpc-web+json", "application/grpc-web-text+json"])(
    "%s -> HTTP 415: only protobuf is served",
    async (contentType) => {
      const e = grpcWebEvent(AUTHORIZE, {
        contentType,
        headers: { authorization: `Bearer ${tokens.alice}` },
        body: JSON.stringify({ idempotencyKey: uniqueKey(), payerAccountId: alice.accountId }),
      });
      expect((await invoke(api.handler, e)).statusCode).toBe(415);
      expect(await tableCounts(api.fx.pool)).toEqual(before);
    },
  );
});

describe("ListLedgerEntries page tokens", () => {
  it.each(["v1:9999999999999999999", "v1:9223372036854775808"])(
    "a token past int64 (%s) -> INVALID_ARGUMENT",
    async (raw) => {
      const body = toBinary(
        ListLedgerEntriesRequestSchema,
        create(ListLedgerEntriesRequestSchema, {
          accountId: alice.accountId,
          pageToken: Buffer.from(raw).toString("base64url"),
        }),
      );
      const outcome = await call(event(LIST_ENTRIES, "alice", frame(body)));
      expect(outcome.code).toBe(Code.InvalidArgument);
      expect(outcome.message).toContain("page_token");
    },
  );
});
