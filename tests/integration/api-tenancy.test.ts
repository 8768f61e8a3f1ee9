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
  ListLedgerEntriesResponseSchema,
  PaymentErrorCode,
  PaymentStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import type { Account } from "../../lib/payments/model.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";
import { type ApiFixture, apiFixture, invoke } from "../support/api.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { type TableCounts, tableCounts, uniqueKey } from "../support/ledger.ts";

const AUTHORIZE = "/payment.v1.PaymentService/AuthorizePayment";
const LIST_ENTRIES = "/payment.v1.PaymentService/ListLedgerEntries";

let api: ApiFixture;
let alice: Account;
let bob: Account;
const tokens: Record<string, string> = {};
let before: TableCounts;

beforeAll(async () => {
  api = await apiFixture();
  alice = await api.fx.openFundedAccount(10_000n, "EUR", "alice");
  bob = await api.fx.openFundedAccount(10_000n, "EUR", "bob");
  tokens.alice = await api.token("alice");
  tokens.bob = await api.token("bob");
  tokens.operator = await api.token("ops-1", { operator: true });
  tokens.otherOperator = await api.token("ops-2", { operator: true });
});
afterAll(async () => {
  await api?.close();
});
// Every test here moves money through the real path: the ledger keeps every invariant after each.
checkInvariantsAfterEach(() => api?.fx.pool);
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

describe("declines reveal nothing of another owner's account", () => {
  // What the caller may know: its own payer account (currency, funds), and
  // whether the payee can receive the payment's currency. Nothing else.
  const MISSING_LOW = "00000000000000000000000000";
  const MISSING_HIGH = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ";
  let payees: Record<string, { id: string; currency?: string }>;
  let payers: Record<string, Account>;

  beforeAll(async () => {
    // Bob's accounts on both sides of alice's in id order: the ledger locks
    // in id order, so both orders of its checks are exercised.
    const bobEurBefore = await api.fx.openFundedAccount(0n, "EUR", "bob");
    const bobUsdBefore = await api.fx.openFundedAccount(0n, "USD", "bob");
    payers = {
      "funded EUR": await api.fx.openFundedAccount(10_000n, "EUR", "alice"),
      "empty EUR": await api.fx.openFundedAccount(0n, "EUR", "alice"),
      "empty USD": await api.fx.openFundedAccount(0n, "USD", "alice"),
      "empty GBP": await api.fx.openFundedAccount(0n, "GBP", "alice"),
    };
    const bobEurAfter = await api.fx.openFundedAccount(0n, "EUR", "bob");
    const bobUsdAfter = await api.fx.openFundedAccount(0n, "USD", "bob");
    const ids = Object.values(payers).map((a) => a.accountId);
    for (const id of ids) {
      expect(bobEurBefore.accountId < id && bobUsdBefore.accountId < id).toBe(true);
      expect(bobEurAfter.accountId > id && bobUsdAfter.accountId > id).toBe(true);
    }
    payees = {
      "missing (lower id)": { id: MISSING_LOW },
      "missing (higher id)": { id: MISSING_HIGH },
      "bob's EUR (lower id)": { id: bobEurBefore.accountId, currency: "EUR" },
      "bob's USD (lower id)": { id: bobUsdBefore.accountId, currency: "USD" },
      "bob's EUR (higher id)": { id: bobEurAfter.accountId, currency: "EUR" },
      "bob's USD (higher id)": { id: bobUsdAfter.accountId, currency: "USD" },
    };
  });

  it("every payer x currency x payee: the outcome depends only on the payer and whether the payee can receive", async () => {
    const seen = new Map<string, { case: string; outcome: string }>();
    for (const [payerName, payer] of Object.entries(payers)) {
      for (const currency of ["EUR", "USD", "GBP"]) {
        for (const [payeeName, payee] of Object.entries(payees)) {
          const answer = await pay("alice", {
            idempotencyKey: uniqueKey("probe"),
            payerAccountId: payer.accountId,
            payeeAccountId: payee.id,
            currency,
          });
          expect(answer.code).toBe(0);
          const status = answer.response?.status;
          const error = answer.response?.error;
          const outcome =
            status === PaymentStatus.AUTHORIZED
              ? "AUTHORIZED"
              : `${PaymentErrorCode[error?.code ?? 0]}: ${error?.message ?? ""}`;
          const what = `${payerName} pays ${currency} to ${payeeName}`;
          // Everything a caller may know about this payment, and nothing more.
          const knowable = `${payer.accountId}/${currency}/${payee.currency === currency ? "can" : "cannot"} receive`;
          const earlier = seen.get(knowable);
          if (earlier) expect(outcome, `${what} vs ${earlier.case}`).toBe(earlier.outcome);
          else seen.set(knowable, { case: what, outcome });
          // Nothing of the payee but what the caller sent: not its id, not its currency.
          expect(outcome).not.toContain(payee.id);
          for (const other of ["EUR", "USD", "GBP"].filter((c) => c !== currency && c !== payer.currency)) {
            expect(outcome, what).not.toContain(other);
          }
        }
      }
    }
    const expected = (payerName: string, currency: string, canReceive: boolean) => {
      const payer = payers[payerName] as Account;
      if (payer.currency !== currency) return "CURRENCY_MISMATCH";
      if (!canReceive) return "ACCOUNT_NOT_FOUND";
      return payerName.startsWith("funded") ? "AUTHORIZED" : "INSUFFICIENT_FUNDS";
    };
    for (const [payerName, payer] of Object.entries(payers)) {
      for (const currency of ["EUR", "USD", "GBP"]) {
        for (const canReceive of [true, false]) {
          const entry = seen.get(`${payer.accountId}/${currency}/${canReceive ? "can" : "cannot"} receive`);
          if (!entry) continue; // GBP: no payee can receive it
          expect(entry.outcome.split(":")[0], entry.case).toBe(expected(payerName, currency, canReceive));
        }
      }
    }
  });

  it("the issue's probe: own empty USD, GBP and EUR accounts to another owner's EUR account, and to an unknown id", async () => {
    for (const payerName of ["empty USD", "empty GBP", "empty EUR"]) {
      const payer = payers[payerName] as Account;
      const outcomes = [];
      for (const payee of [payees["bob's EUR (higher id)"], payees["missing (higher id)"]]) {
        const declined = await pay("alice", {
          idempotencyKey: uniqueKey("probe"),
          payerAccountId: payer.accountId,
          payeeAccountId: payee?.id,
          currency: payer.currency,
        });
        outcomes.push(declined.response?.error);
      }
      const [toBob, toNobody] = outcomes;
      expect(toNobody?.code, payerName).toBe(PaymentErrorCode.ACCOUNT_NOT_FOUND);
      // Only "can bob's account receive this currency" may differ: EUR can.
      if (payer.currency === "EUR") expect(toBob?.code).toBe(PaymentErrorCode.INSUFFICIENT_FUNDS);
      else expect(toBob, payerName).toEqual(toNobody);
    }
  });

  it("the caller's own account in another currency is still CURRENCY_MISMATCH, whatever the payee", async () => {
    const eur = payers["funded EUR"] as Account;
    for (const payee of Object.values(payees)) {
      const declined = await pay("alice", {
        idempotencyKey: uniqueKey(),
        payerAccountId: eur.accountId,
        payeeAccountId: payee.id,
        currency: "USD",
      });
      expect(declined.response?.error?.code).toBe(PaymentErrorCode.CURRENCY_MISMATCH);
      expect(declined.response?.error?.message).toBe("payment is in USD, payer account in EUR");
    }
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
  async function list(who: string, accountId: string, pageToken = "", pageSize = 1) {
    const body = toBinary(
      ListLedgerEntriesRequestSchema,
      create(ListLedgerEntriesRequestSchema, { accountId, pageSize, pageToken }),
    );
    const outcome = await call(event(LIST_ENTRIES, who, frame(body)));
    const message = outcome.messages[0];
    return {
      ...outcome,
      response: message ? fromBinary(ListLedgerEntriesResponseSchema, message) : undefined,
    };
  }

  let first: Account;
  let second: Account;
  let firstToken: string;
  let refusal: string;

  beforeAll(async () => {
    // Statement positions are a global sequence: start it far from anything a
    // token could contain by chance, so a token that carries it is caught.
    await api.fx.pool.query("ALTER TABLE ledger_entries ALTER COLUMN seq RESTART WITH 987654321000");
    first = await api.fx.openFundedAccount(1000n, "EUR", "alice");
    second = await api.fx.openFundedAccount(1000n, "EUR", "alice");
    for (const account of [first, second, first, second]) {
      const paid = await pay("alice", {
        idempotencyKey: uniqueKey("statement"),
        payerAccountId: account.accountId,
        payeeAccountId: bob.accountId,
      });
      expect(paid.response?.status).toBe(PaymentStatus.AUTHORIZED);
    }
    const page = await list("alice", first.accountId);
    expect(page.code).toBe(0);
    firstToken = page.response?.nextPageToken ?? "";
    expect(firstToken).not.toBe("");
    const garbage = await list("alice", first.accountId, "garbage");
    expect(garbage.code).toBe(Code.InvalidArgument);
    refusal = garbage.message;
  });

  it("a token works for the account and caller it was issued to, page after page", async () => {
    const seen: string[] = [];
    let token = "";
    do {
      const page = await list("alice", first.accountId, token);
      expect(page.code, page.message).toBe(0);
      seen.push(...(page.response?.entries.map((e) => e.entryId) ?? []));
      token = page.response?.nextPageToken ?? "";
    } while (token !== "");
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
  });

  it("a token of one account, used on another the same caller owns -> INVALID_ARGUMENT, revealing nothing", async () => {
    const elsewhere = await list("alice", second.accountId, firstToken);
    expect(elsewhere.code).toBe(Code.InvalidArgument);
    expect(elsewhere.message).toBe(refusal);
    expect(elsewhere.messages).toEqual([]);
  });

  it("a token issued to one operator, used by another on the same system account -> INVALID_ARGUMENT", async () => {
    const treasury = await api.fx.systemAccount("EUR");
    const page = await list("operator", treasury.accountId);
    const token = page.response?.nextPageToken ?? "";
    expect(token).not.toBe("");
    expect((await list("operator", treasury.accountId, token)).code).toBe(0);
    const other = await list("otherOperator", treasury.accountId, token);
    expect(other.code).toBe(Code.InvalidArgument);
    expect(other.message).toBe(refusal);
  });

  it("an altered token -> INVALID_ARGUMENT, the same message as any foreign one", async () => {
    for (let i = 0; i < firstToken.length; i += 3) {
      const flipped = firstToken[i] === "A" ? "B" : "A";
      const altered = `${firstToken.slice(0, i)}${flipped}${firstToken.slice(i + 1)}`;
      const outcome = await list("alice", first.accountId, altered);
      expect(outcome.code, altered).toBe(Code.InvalidArgument);
      expect(outcome.message).toBe(refusal);
    }
  });

  it("says nothing of the ledger's size: no statement position in the token", async () => {
    const { rows } = await api.fx.pool.query<{ seq: bigint }>(
      "SELECT max(seq) AS seq FROM ledger_entries WHERE account_id = $1",
      [first.accountId],
    );
    expect(rows[0]?.seq).toBeGreaterThan(987_654_321_000n);
    for (const text of [firstToken, Buffer.from(firstToken, "base64url").toString("latin1")]) {
      expect(text).not.toContain("987654321");
    }
  });

  it.each([
    "v1:9999999999999999999",
    "v1:9223372036854775808",
    // Tokens of the previous release: an unbound global position, refused like any foreign token.
    "v1:987654321003",
    "v1:1",
  ])("a bare position token (%s) -> INVALID_ARGUMENT", async (raw) => {
    const outcome = await list("alice", first.accountId, Buffer.from(raw).toString("base64url"));
    expect(outcome.code).toBe(Code.InvalidArgument);
    expect(outcome.message).toBe(refusal);
    expect(outcome.message).toContain("page_token");
  });
});
