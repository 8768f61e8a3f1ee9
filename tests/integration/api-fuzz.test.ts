/**
 * Property 1: whatever bytes, frames, content types and paths arrive, the
 * handler answers (never throws, never HTTP 5xx), every HTTP 200 answer
 * carries a gRPC status, and the ledger is unchanged. The caller's token
 * names a subject that owns no account, so no well-formed request among the
 * random ones may write either; CreateAccount, which anyone may call for
 * themselves, is sent without a token.
 *
 * Property 2: two owners. Mallory, who owns funded accounts of her own, sends
 * random well-formed calls built from her ids, alice's ids, alice's
 * idempotency keys and junk. She never reads alice's data, never learns her
 * payment ids or descriptions, never debits her, and never blocks her: every
 * key alice used still replays her own payment and every key mallory used is
 * still free for alice.
 */
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthorizePaymentRequestSchema,
  CreateAccountRequestSchema,
  GetAccountBalanceRequestSchema,
  GetPaymentRequestSchema,
  ListLedgerEntriesRequestSchema,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import { newId } from "../../lib/ids.ts";
import type { Account } from "../../lib/payments/model.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { type ApiFixture, apiFixture, invoke } from "../support/api.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { tableCounts, uniqueKey } from "../support/ledger.ts";

let api: ApiFixture;
let token: string;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  api = await apiFixture();
  token = await api.token("fuzzer-owns-nothing");
  alice = await api.fx.openFundedAccount(1_000n, "EUR", "alice");
  bob = await api.fx.openFundedAccount(0n, "EUR", "bob");
});
afterAll(async () => {
  await api?.close();
});
// Every test here moves money through the real path: the ledger keeps every invariant after each.
checkInvariantsAfterEach(() => api?.fx.pool);

const AUTHENTICATED_PATHS = [
  "/payment.v1.PaymentService/AuthorizePayment",
  "/payment.v1.PaymentService/GetPayment",
  "/payment.v1.PaymentService/GetAccountBalance",
  "/payment.v1.PaymentService/ListLedgerEntries",
  "/grpc.health.v1.Health/Check",
  "/grpc.health.v1.Health/Watch",
  "/payment.v1.PaymentService/Nope",
  "/",
];
const ANONYMOUS_PATHS = [
  "/payment.v1.PaymentService/CreateAccount",
  "/payment.v1.PaymentService/AuthorizePayment",
];

const CONTENT_TYPES = [
  "application/grpc-web",
  "application/grpc-web+proto",
  "application/grpc-web-text",
  "application/grpc-web-text+proto",
  "application/grpc-web+json",
  "application/json",
  "APPLICATION/GRPC-WEB+PROTO",
];

// A real request to start mutations from, so frames often parse.
const validPayload = (): Uint8Array =>
  toBinary(
    AuthorizePaymentRequestSchema,
    create(AuthorizePaymentRequestSchema, {
      idempotencyKey: "fuzz",
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 5n,
      currency: "EUR",
    }),
  );

const frameArb = fc.record({
  flags: fc.oneof(fc.constant(0), fc.constant(1), fc.constant(0x80), fc.integer({ min: 0, max: 255 })),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.constant(null), // the valid payload
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => ({ at, byte })),
  ),
  lengthDelta: fc.oneof(fc.constant(0), fc.integer({ min: -8, max: 8 }), fc.constant(0x7fffffff)),
});

const bodyArb = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc.array(frameArb, { minLength: 0, maxLength: 3 }).map((frames) =>
    Buffer.concat(
      frames.map(({ flags, payload, lengthDelta }) => {
        let bytes: Uint8Array;
        if (payload === null) bytes = validPayload();
        else if (payload instanceof Uint8Array) bytes = payload;
        else {
          bytes = validPayload();
          bytes[payload.at % bytes.length] = payload.byte;
        }
        return frame(bytes, { flags, length: Math.max(0, bytes.length + lengthDelta) >>> 0 });
      }),
    ),
  ),
);

const requestArb = fc.record({
  authenticated: fc.boolean(),
  path: fc.integer({ min: 0, max: 100 }),
  contentType: fc.oneof(fc.constantFrom(...CONTENT_TYPES), fc.string({ maxLength: 30 })),
  body: bodyArb,
  // Text mode gets base64 of the bytes, or whatever string the fuzzer made.
  text: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 100 })),
  timeout: fc.oneof(fc.constant(undefined), fc.constantFrom("1S", "0m", "99999999H", "x", "5")),
  method: fc.constantFrom("POST", "POST", "POST", "GET", "PUT"),
});

it("never crashes, never answers 5xx, always gives a gRPC status, and writes nothing", async () => {
  const before = await tableCounts(api.fx.pool);
  await fc.assert(
    fc.asyncProperty(requestArb, async (r) => {
      const paths = r.authenticated ? AUTHENTICATED_PATHS : ANONYMOUS_PATHS;
      const path = paths[r.path % paths.length] as string;
      const isText = r.contentType.toLowerCase().startsWith("application/grpc-web-text");
      const body = isText ? (r.text ?? Buffer.from(r.body).toString("base64")) : r.body;
      const headers: Record<string, string> = {};
      if (r.authenticated) headers.authorization = `Bearer ${token}`;
      if (r.timeout) headers["grpc-timeout"] = r.timeout;
      const result = await invoke(
        api.handler,
        grpcWebEvent(path, { method: r.method, contentType: r.contentType, headers, body }),
      );
      const status = result.statusCode ?? 200;
      expect(status).toBeLessThan(500);
      if (status === 200) {
        const outcome = readGrpcWeb(result);
        expect(outcome.code).toEqual(expect.any(Number));
      } else {
        expect([405, 415]).toContain(status);
      }
    }),
    { numRuns: 250 },
  );
  expect(await tableCounts(api.fx.pool)).toEqual(before);
});

describe("two owners", () => {
  const SECRET = `alice-private-${newId()}`;
  let mallory: Account;
  let malloryDollars: Account;
  let aliceTokenValue: string;
  let malloryToken: string;
  const alicePayments: Array<{ key: string; paymentId: string; request: Uint8Array }> = [];

  const call = async (who: string, method: string, body: Uint8Array) =>
    readGrpcWeb(
      await invoke(
        api.handler,
        grpcWebEvent(`/payment.v1.PaymentService/${method}`, {
          headers: { authorization: `Bearer ${who}` },
          body: frame(body),
        }),
      ),
    );
  const bytes = <D extends DescMessage>(schema: D, init: MessageInitShape<D>) =>
    toBinary(schema, create(schema, init));

  beforeAll(async () => {
    aliceTokenValue = await api.token("alice");
    malloryToken = await api.token("mallory");
    mallory = await api.fx.openFundedAccount(1_000n, "EUR", "mallory");
    malloryDollars = await api.fx.openFundedAccount(0n, "USD", "mallory");
    for (const amount of [3n, 4n]) {
      const key = uniqueKey("alice-order");
      const request = bytes(AuthorizePaymentRequestSchema, {
        idempotencyKey: key,
        payerAccountId: alice.accountId,
        payeeAccountId: bob.accountId,
        amountCents: amount,
        currency: "EUR",
        description: SECRET,
      });
      const outcome = await call(aliceTokenValue, "AuthorizePayment", request);
      expect(outcome.code).toBe(0);
      const paymentId = Buffer.from(outcome.messages[0] ?? [])
        .toString("latin1")
        .slice(2, 28);
      alicePayments.push({ key, paymentId, request });
    }
  });

  it("random calls by one owner never read, block or learn the other's data", async () => {
    const aliceIds = () => [alice.accountId, ...alicePayments.map((p) => p.paymentId)];
    const idArb = fc.oneof(
      fc.constant("alice-account"),
      fc.constant("alice-payment"),
      fc.constant("mallory-account"),
      fc.constant("mallory-dollars"),
      fc.constant("bob-account"),
      fc.constant("fresh"),
      fc.string({ maxLength: 30 }),
    );
    const resolve = (id: string, i: number): string => {
      if (id === "alice-account") return alice.accountId;
      if (id === "alice-payment") return alicePayments[i % alicePayments.length]?.paymentId ?? "";
      if (id === "mallory-account") return mallory.accountId;
      if (id === "mallory-dollars") return malloryDollars.accountId;
      if (id === "bob-account") return bob.accountId;
      if (id === "fresh") return newId();
      return id;
    };
    const malloryKeys = new Set<string>();
    const callArb = fc.record({
      method: fc.constantFrom(
        "AuthorizePayment",
        "AuthorizePayment",
        "GetPayment",
        "GetAccountBalance",
        "ListLedgerEntries",
        "CreateAccount",
      ),
      a: idArb,
      b: idArb,
      i: fc.nat(),
      key: fc.oneof(
        fc.constant("alice-key"),
        fc.constant("mallory-key"),
        fc.string({ minLength: 1, maxLength: 20 }),
      ),
      amount: fc.oneof(fc.constant(1n), fc.bigInt({ min: -5n, max: 2_000n }), fc.constant(2n ** 63n - 1n)),
      currency: fc.constantFrom("EUR", "USD", "eur", ""),
      pageToken: fc.oneof(fc.constant(""), fc.string({ maxLength: 12 })),
      owner: fc.constantFrom("", "alice", "mallory"),
      system: fc.boolean(),
    });

    await fc.assert(
      fc.asyncProperty(callArb, async (c) => {
        const a = resolve(c.a, c.i);
        const b = resolve(c.b, c.i + 1);
        let body: Uint8Array;
        if (c.method === "AuthorizePayment") {
          const key =
            c.key === "alice-key"
              ? (alicePayments[c.i % alicePayments.length]?.key ?? "k")
              : c.key === "mallory-key"
                ? `mallory-${c.i % 5}`
                : c.key;
          malloryKeys.add(key);
          body = bytes(AuthorizePaymentRequestSchema, {
            idempotencyKey: key,
            payerAccountId: a,
            payeeAccountId: b,
            amountCents: BigInt.asIntN(64, c.amount),
            currency: c.currency,
          });
        } else if (c.method === "GetPayment") {
          body = bytes(GetPaymentRequestSchema, { paymentId: a });
        } else if (c.method === "GetAccountBalance") {
          body = bytes(GetAccountBalanceRequestSchema, { accountId: a });
        } else if (c.method === "ListLedgerEntries") {
          body = bytes(ListLedgerEntriesRequestSchema, { accountId: a, pageToken: c.pageToken });
        } else {
          body = bytes(CreateAccountRequestSchema, {
            owner: c.owner,
            currency: c.currency,
            system: c.system,
          });
        }
        const outcome = await call(malloryToken, c.method, body);
        expect(outcome.httpStatus).toBe(200);
        expect(outcome.code).toEqual(expect.any(Number));
        // Learn: nothing of alice's that mallory did not send herself.
        const seen = `${outcome.message} ${Buffer.concat(outcome.messages).toString("latin1")}`;
        expect(seen).not.toContain(SECRET);
        for (const { paymentId } of alicePayments) {
          if (paymentId !== a && paymentId !== b) expect(seen).not.toContain(paymentId);
        }
        // Read: a read of alice's account or payment never succeeds.
        if (c.method !== "AuthorizePayment" && c.method !== "CreateAccount" && aliceIds().includes(a)) {
          expect(outcome.code).not.toBe(0);
        }
        // CreateAccount for someone else, or a system account, is refused.
        if (c.method === "CreateAccount" && outcome.code === 0) {
          expect(c.owner === "" || c.owner === "mallory").toBe(true);
          expect(c.system).toBe(false);
        }
      }),
      { numRuns: 200 },
    );

    // Never debited: alice's only debits are her own two payments.
    const debits = await api.fx.pool.query(
      "SELECT payment_id FROM ledger_entries WHERE account_id = $1 AND amount < 0 ORDER BY seq",
      [alice.accountId],
    );
    expect(debits.rows.map((r: { payment_id: string }) => r.payment_id)).toEqual(
      alicePayments.map((p) => p.paymentId),
    );
    // Never blocked: alice's keys still replay her payments; mallory's keys are free for her.
    for (const payment of alicePayments) {
      const replay = await call(aliceTokenValue, "AuthorizePayment", payment.request);
      expect(replay.code).toBe(0);
      expect(Buffer.concat(replay.messages).toString("latin1")).toContain(payment.paymentId);
    }
    for (const key of [...malloryKeys].filter((k) => /^[\x20-\x7e]+$/.test(k)).slice(0, 20)) {
      const fresh = await call(
        aliceTokenValue,
        "AuthorizePayment",
        bytes(AuthorizePaymentRequestSchema, {
          idempotencyKey: key,
          payerAccountId: alice.accountId,
          payeeAccountId: bob.accountId,
          amountCents: 1n,
          currency: "EUR",
        }),
      );
      if (alicePayments.some((p) => p.key === key)) continue;
      expect(fresh.code, `key ${JSON.stringify(key)}`).toBe(0);
    }
  });
});
