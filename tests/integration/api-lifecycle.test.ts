/**
 * Holds, captures, voids and refunds through the real handler (gRPC-web bytes
 * in and out) on a real ledger: who may do what, and that no code or message
 * tells a caller anything about a payment it may not act on.
 */
import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  AuthorizePaymentRequestSchema,
  AuthorizePaymentResponseSchema,
  CapturePaymentRequestSchema,
  CapturePaymentResponseSchema,
  EntryKind,
  GetAccountBalanceRequestSchema,
  GetAccountBalanceResponseSchema,
  GetPaymentRequestSchema,
  GetPaymentResponseSchema,
  HoldErrorCode,
  ListLedgerEntriesRequestSchema,
  ListLedgerEntriesResponseSchema,
  PaymentStatus,
  RefundErrorCode,
  RefundPaymentRequestSchema,
  RefundPaymentResponseSchema,
  RefundStatus,
  VoidPaymentRequestSchema,
  VoidPaymentResponseSchema,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import type { Account } from "../../lib/payments/model.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { type ApiFixture, apiFixture, invoke } from "../support/api.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { type TableCounts, tableCounts, uniqueKey } from "../support/ledger.ts";

let api: ApiFixture;
let alice: Account;
let bob: Account;
const tokens: Record<string, string> = {};
let before: TableCounts;

beforeAll(async () => {
  api = await apiFixture();
  alice = await api.fx.openFundedAccount(10_000n, "EUR", "alice");
  bob = await api.fx.openFundedAccount(1_000n, "EUR", "bob");
  tokens.alice = await api.token("alice");
  tokens.bob = await api.token("bob");
  tokens.mallory = await api.token("mallory");
  tokens.operator = await api.token("ops-1", { operator: true });
});
afterAll(async () => {
  await api?.close();
});
checkInvariantsAfterEach(() => api?.fx.pool);
beforeEach(async () => {
  before = await tableCounts(api.fx.pool);
});

const UNKNOWN_PAYMENT = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

async function rpc<I extends DescMessage, O extends DescMessage>(
  method: string,
  input: I,
  output: O,
  who: string,
  request: MessageInitShape<I>,
  headers: Record<string, string> = {},
) {
  const body = frame(toBinary(input, create(input, request)));
  const outcome = readGrpcWeb(
    await invoke(
      api.handler,
      grpcWebEvent(`/payment.v1.PaymentService/${method}`, {
        body,
        headers: { authorization: `Bearer ${tokens[who]}`, ...headers },
      }),
    ),
  );
  const message = outcome.messages[0];
  return { ...outcome, response: message ? fromBinary(output, message) : undefined };
}

const holdOf = (who: string, amountCents: bigint, expiresInSeconds = 3600) =>
  rpc("AuthorizePayment", AuthorizePaymentRequestSchema, AuthorizePaymentResponseSchema, who, {
    idempotencyKey: uniqueKey("hold"),
    payerAccountId: alice.accountId,
    payeeAccountId: bob.accountId,
    amountCents,
    currency: "EUR",
    hold: { expiresInSeconds },
  });
const capture = (who: string, paymentId: string, amountCents = 0n, headers: Record<string, string> = {}) =>
  rpc(
    "CapturePayment",
    CapturePaymentRequestSchema,
    CapturePaymentResponseSchema,
    who,
    { idempotencyKey: uniqueKey("capture"), paymentId, amountCents },
    headers,
  );
const voidHold = (who: string, paymentId: string) =>
  rpc("VoidPayment", VoidPaymentRequestSchema, VoidPaymentResponseSchema, who, { paymentId });
const refund = (who: string, paymentId: string, amountCents: bigint) =>
  rpc("RefundPayment", RefundPaymentRequestSchema, RefundPaymentResponseSchema, who, {
    idempotencyKey: uniqueKey("refund"),
    paymentId,
    amountCents,
  });
const getPayment = (who: string, paymentId: string) =>
  rpc("GetPayment", GetPaymentRequestSchema, GetPaymentResponseSchema, who, { paymentId });
const balanceOf = async (who: string, accountId: string) =>
  (
    await rpc("GetAccountBalance", GetAccountBalanceRequestSchema, GetAccountBalanceResponseSchema, who, {
      accountId,
    })
  ).response;

async function heldPayment(amountCents = 100n): Promise<string> {
  const held = await holdOf("alice", amountCents);
  expect(held.response?.status).toBe(PaymentStatus.HELD);
  return held.response?.paymentId ?? "";
}

describe("a hold on the wire", () => {
  it("answers HELD with its expiry; the balance shows it as pending, not available; GetPayment says HELD", async () => {
    const start = await balanceOf("alice", alice.accountId);
    const held = await holdOf("alice", 250n, 600);
    expect(held.response).toMatchObject({ status: PaymentStatus.HELD });
    expect(
      Date.parse(held.response?.holdExpiresAt ?? "") - Date.parse(held.response?.processedAt ?? ""),
    ).toBe(600_000);
    const after = await balanceOf("alice", alice.accountId);
    expect(after?.availableBalanceCents).toBe((start?.availableBalanceCents ?? 0n) - 250n);
    expect(after?.pendingBalanceCents).toBe((start?.pendingBalanceCents ?? 0n) + 250n);
    const read = await getPayment("bob", held.response?.paymentId ?? "");
    expect(read.response?.payment).toMatchObject({
      status: PaymentStatus.HELD,
      holdExpiresAt: held.response?.holdExpiresAt,
      capturedAmountCents: 0n,
    });
  });

  it("a hold longer than HOLD_MAX_DURATION or negative -> INVALID_ARGUMENT, nothing written", async () => {
    for (const seconds of [7 * 86_400 + 1, -1]) {
      const outcome = await holdOf("alice", 1n, seconds);
      expect(outcome.code).toBe(Code.InvalidArgument);
      expect(outcome.message).toContain("hold.expires_in_seconds");
    }
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });
});

describe("capture and void: the payer's owner or an operator", () => {
  it("alice captures part of her hold: CAPTURED, the rest released, the capture in both statements", async () => {
    const paymentId = await heldPayment(300n);
    const captured = await capture("alice", paymentId, 120n);
    expect(captured.response).toMatchObject({
      paymentId,
      status: PaymentStatus.CAPTURED,
      capturedAmountCents: 120n,
      releasedAmountCents: 180n,
    });
    const page = await rpc(
      "ListLedgerEntries",
      ListLedgerEntriesRequestSchema,
      ListLedgerEntriesResponseSchema,
      "bob",
      { accountId: bob.accountId, pageSize: 1 },
    );
    expect(page.response?.entries[0]).toMatchObject({
      paymentId,
      kind: EntryKind.CAPTURE,
      amountCents: 120n,
    });
    const again = await capture("alice", paymentId);
    expect(again.response).toMatchObject({
      status: PaymentStatus.DECLINED,
      error: { code: HoldErrorCode.CAPTURED },
    });
    expect((await voidHold("alice", paymentId)).response?.error?.code).toBe(HoldErrorCode.CAPTURED);
  });

  it("an operator may capture and void; alice voids her own hold, and again", async () => {
    expect((await capture("operator", await heldPayment())).response?.status).toBe(PaymentStatus.CAPTURED);
    expect((await voidHold("operator", await heldPayment())).response?.status).toBe(PaymentStatus.VOIDED);
    const paymentId = await heldPayment();
    const voided = await voidHold("alice", paymentId);
    expect(voided.response).toMatchObject({ status: PaymentStatus.VOIDED, releasedAmountCents: 100n });
    expect((await voidHold("alice", paymentId)).response).toEqual(voided.response);
  });

  it("the payee, a stranger and an unknown payment id all get the same PERMISSION_DENIED, and nothing is written", async () => {
    const paymentId = await heldPayment();
    before = await tableCounts(api.fx.pool);
    const refusal = (id: string, action: string) => `the caller may not ${action} payment ${id}`;
    for (const who of ["bob", "mallory"]) {
      for (const [action, outcome] of [
        ["capture", await capture(who, paymentId)],
        ["void", await voidHold(who, paymentId)],
      ] as const) {
        expect(outcome.code, `${who} ${action}`).toBe(Code.PermissionDenied);
        expect(outcome.message).toBe(refusal(paymentId, action));
      }
    }
    for (const who of ["alice", "mallory", "operator"]) {
      const outcome = await capture(who, UNKNOWN_PAYMENT);
      expect(outcome.code).toBe(Code.PermissionDenied);
      expect(outcome.message).toBe(refusal(UNKNOWN_PAYMENT, "capture"));
    }
    expect(await tableCounts(api.fx.pool)).toEqual(before);
    expect((await capture("alice", "not-a-ulid")).code).toBe(Code.InvalidArgument);
  });

  it("a capture whose deadline is already too close -> DEADLINE_EXCEEDED, nothing written", async () => {
    const paymentId = await heldPayment();
    before = await tableCounts(api.fx.pool);
    const late = await capture("alice", paymentId, 0n, { "grpc-timeout": "20m" });
    expect(late.code).toBe(Code.DeadlineExceeded);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });
});

describe("refunds: the payee's owner or an operator", () => {
  async function paid(amountCents: bigint): Promise<string> {
    const outcome = await rpc(
      "AuthorizePayment",
      AuthorizePaymentRequestSchema,
      AuthorizePaymentResponseSchema,
      "alice",
      {
        idempotencyKey: uniqueKey("pay"),
        payerAccountId: alice.accountId,
        payeeAccountId: bob.accountId,
        amountCents,
        currency: "EUR",
      },
    );
    expect(outcome.response?.status).toBe(PaymentStatus.AUTHORIZED);
    return outcome.response?.paymentId ?? "";
  }

  it("bob refunds in parts, an operator too; past what moved it is declined; GetPayment lists them all", async () => {
    const paymentId = await paid(100n);
    expect((await refund("bob", paymentId, 30n)).response?.status).toBe(RefundStatus.REFUNDED);
    expect((await refund("operator", paymentId, 50n)).response?.status).toBe(RefundStatus.REFUNDED);
    const over = await refund("bob", paymentId, 21n);
    expect(over.response).toMatchObject({
      status: RefundStatus.DECLINED,
      error: {
        code: RefundErrorCode.EXCEEDS_REFUNDABLE,
        message: "at most 20 of the 100 paid can still be refunded",
      },
    });
    const read = await getPayment("alice", paymentId);
    expect(read.response?.payment).toMatchObject({ capturedAmountCents: 100n, refundedAmountCents: 80n });
    expect(read.response?.refunds.map((r) => [r.amountCents, r.status])).toEqual([
      [30n, RefundStatus.REFUNDED],
      [50n, RefundStatus.REFUNDED],
      [21n, RefundStatus.DECLINED],
    ]);
    const page = await rpc(
      "ListLedgerEntries",
      ListLedgerEntriesRequestSchema,
      ListLedgerEntriesResponseSchema,
      "alice",
      { accountId: alice.accountId, pageSize: 2 },
    );
    expect(page.response?.entries.map((e) => [e.kind, e.paymentId, e.refundId])).toEqual([
      [EntryKind.REFUND, paymentId, read.response?.refunds[1]?.refundId],
      [EntryKind.REFUND, paymentId, read.response?.refunds[0]?.refundId],
    ]);
  });

  it("the payer, a stranger and an unknown payment id all get the same PERMISSION_DENIED, and nothing is written", async () => {
    const paymentId = await paid(10n);
    before = await tableCounts(api.fx.pool);
    for (const who of ["alice", "mallory"]) {
      const outcome = await refund(who, paymentId, 1n);
      expect(outcome.code).toBe(Code.PermissionDenied);
      expect(outcome.message).toBe(`the caller may not refund payment ${paymentId}`);
    }
    const unknown = await refund("bob", UNKNOWN_PAYMENT, 1n);
    expect(unknown.code).toBe(Code.PermissionDenied);
    expect(unknown.message).toBe(`the caller may not refund payment ${UNKNOWN_PAYMENT}`);
    expect(await tableCounts(api.fx.pool)).toEqual(before);
  });

  it("a payee who cannot cover it is declined INSUFFICIENT_FUNDS; a hold not yet captured NOT_CAPTURED", async () => {
    const carol = await api.fx.openFundedAccount(0n, "EUR", "carol");
    const outcome = await rpc(
      "AuthorizePayment",
      AuthorizePaymentRequestSchema,
      AuthorizePaymentResponseSchema,
      "alice",
      {
        idempotencyKey: uniqueKey(),
        payerAccountId: alice.accountId,
        payeeAccountId: carol.accountId,
        amountCents: 40n,
        currency: "EUR",
      },
    );
    const paymentId = outcome.response?.paymentId ?? "";
    tokens.carol = await api.token("carol");
    await rpc("AuthorizePayment", AuthorizePaymentRequestSchema, AuthorizePaymentResponseSchema, "carol", {
      idempotencyKey: uniqueKey(),
      payerAccountId: carol.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 35n,
      currency: "EUR",
    });
    expect((await refund("carol", paymentId, 10n)).response?.error?.code).toBe(
      RefundErrorCode.INSUFFICIENT_FUNDS,
    );
    expect((await refund("carol", paymentId, 5n)).response?.status).toBe(RefundStatus.REFUNDED);
    expect((await refund("bob", await heldPayment(), 1n)).response?.error?.code).toBe(
      RefundErrorCode.NOT_CAPTURED,
    );
  });
});
