/**
 * Property: whatever bytes, frames, content types and paths arrive, the
 * handler answers (never throws, never HTTP 5xx), every HTTP 200 answer
 * carries a gRPC status, and the ledger is unchanged. The caller's token
 * names a subject that owns no account, so no well-formed request among the
 * random ones may write either; CreateAccount, which anyone may call for
 * themselves, is sent without a token.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AuthorizePaymentRequestSchema } from "../../lib/gen/payment/v1/payment_pb.ts";
import type { Account } from "../../lib/payments/model.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { type ApiFixture, apiFixture, invoke } from "../support/api.ts";
import { tableCounts } from "../support/ledger.ts";

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
