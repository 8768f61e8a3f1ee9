/**
 * The handler called with crafted API Gateway events: every malformed
 * request gets a precise answer and writes nothing; deadlines, CORS and the
 * error boundary behave as browsers and gRPC-web clients expect.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApiHandler } from "../../lib/api/create-api-handler.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import {
  AuthorizePaymentRequestSchema,
  CreateAccountRequestSchema,
  GetAccountBalanceRequestSchema,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import type { LedgerStore } from "../../lib/payments/ledger-store.ts";
import type { Account } from "../../lib/payments/model.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";
import {
  type ApiFixture,
  apiFixture,
  invoke,
  TEST_AUTH,
  TEST_ORIGIN,
  testApiConfig,
  testLogger,
} from "../support/api.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { type TableCounts, tableCounts, uniqueKey } from "../support/ledger.ts";

const AUTHORIZE = "/payment.v1.PaymentService/AuthorizePayment";
const CREATE_ACCOUNT = "/payment.v1.PaymentService/CreateAccount";
const BALANCE = "/payment.v1.PaymentService/GetAccountBalance";

let api: ApiFixture;
let token: string;
let alice: Account;
let bob: Account;
let before: TableCounts;

beforeAll(async () => {
  api = await apiFixture();
  token = await api.token("alice");
  alice = await api.fx.openFundedAccount(10_000n, "EUR", "alice");
  bob = await api.fx.openFundedAccount(0n, "EUR", "bob");
});
afterAll(async () => {
  await api?.close();
});
// Every test here moves money through the real path: the ledger keeps every invariant after each.
checkInvariantsAfterEach(() => api?.fx.pool);
beforeEach(async () => {
  before = await tableCounts(api.fx.pool);
});

function authorizeBytes(overrides: Record<string, unknown> = {}): Uint8Array {
  return toBinary(
    AuthorizePaymentRequestSchema,
    create(AuthorizePaymentRequestSchema, {
      idempotencyKey: uniqueKey(),
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 1n,
      currency: "EUR",
      ...overrides,
    }),
  );
}

function event(
  path: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
  contentType?: string | null,
) {
  return grpcWebEvent(path, {
    body,
    headers: { authorization: `Bearer ${token}`, ...headers },
    ...(contentType === undefined ? {} : { contentType }),
  });
}

async function call(e: APIGatewayProxyEventV2) {
  return readGrpcWeb(await invoke(api.handler, e));
}

async function expectNothingWritten(): Promise<void> {
  expect(await tableCounts(api.fx.pool)).toEqual(before);
}

describe("well-formed calls", () => {
  it("answers HTTP 200 with a data frame then a trailer frame, base64-encoded for API Gateway", async () => {
    const result = await invoke(api.handler, event(AUTHORIZE, frame(authorizeBytes())));
    expect(result.isBase64Encoded).toBe(true);
    const outcome = readGrpcWeb(result);
    expect(outcome).toMatchObject({ httpStatus: 200, code: 0 });
    expect(outcome.messages).toHaveLength(1);
    expect(outcome.headers["content-type"]).toBe("application/grpc-web+proto");
  });

  it("routes a path carrying a named API Gateway stage", async () => {
    const e = event(
      BALANCE,
      frame(
        toBinary(
          GetAccountBalanceRequestSchema,
          create(GetAccountBalanceRequestSchema, { accountId: alice.accountId }),
        ),
      ),
    );
    e.rawPath = `/prod${BALANCE}`;
    e.requestContext.stage = "prod";
    expect((await call(e)).code).toBe(0);
  });

  it("accepts a text-mode body that API Gateway delivers as plain text", async () => {
    const body = Buffer.from(
      frame(
        toBinary(
          GetAccountBalanceRequestSchema,
          create(GetAccountBalanceRequestSchema, { accountId: alice.accountId }),
        ),
      ),
    ).toString("base64");
    const outcome = await call(event(BALANCE, body, {}, "application/grpc-web-text+proto"));
    expect(outcome.code).toBe(0);
    expect(outcome.headers["content-type"]).toBe("application/grpc-web-text+proto");
  });
});

describe("malformed requests get a precise status and write nothing", () => {
  it.each([
    ["application/json", 415],
    ["text/plain", 415],
    ["application/grpc", 415],
    ["application/grpc-web+thrift", 415],
    [null, 415],
  ])("content type %s -> HTTP %i", async (contentType, status) => {
    const outcome = await call(event(AUTHORIZE, frame(authorizeBytes()), {}, contentType));
    expect(outcome.httpStatus).toBe(status);
    await expectNothingWritten();
  });

  it("a GET -> HTTP 405", async () => {
    const e = event(AUTHORIZE, frame(authorizeBytes()));
    e.requestContext.http.method = "GET";
    const result = await invoke(api.handler, e);
    expect(result.statusCode).toBe(405);
  });

  it("an unknown method -> UNIMPLEMENTED, trailers-only", async () => {
    for (const path of [
      "/payment.v1.PaymentService/ChargebackPayment",
      "/nope.v1.Nope/Call",
      "/",
      "/favicon.ico",
    ]) {
      const outcome = await call(event(path, frame(authorizeBytes())));
      expect(outcome).toMatchObject({ httpStatus: 200, code: Code.Unimplemented, messages: [] });
      expect(outcome.headers["grpc-status"]).toBe(String(Code.Unimplemented));
    }
    await expectNothingWritten();
  });

  it("a truncated frame header -> INVALID_ARGUMENT", async () => {
    const outcome = await call(event(AUTHORIZE, frame(authorizeBytes()).subarray(0, 3)));
    expect(outcome.code).toBe(Code.InvalidArgument);
    expect(outcome.message).toContain("incomplete envelope");
    await expectNothingWritten();
  });

  it("a length prefix beyond the body -> INVALID_ARGUMENT", async () => {
    const payload = authorizeBytes();
    const outcome = await call(event(AUTHORIZE, frame(payload, { length: payload.length + 10 })));
    expect(outcome.code).toBe(Code.InvalidArgument);
    await expectNothingWritten();
  });

  it("a length prefix beyond the size limit -> RESOURCE_EXHAUSTED, without waiting for the bytes", async () => {
    const outcome = await call(event(AUTHORIZE, frame(authorizeBytes(), { length: 0xffffffff })));
    expect(outcome.code).toBe(Code.ResourceExhausted);
    await expectNothingWritten();
  });

  it("two messages on a unary call -> UNIMPLEMENTED (gRPC's code for a cardinality violation), nothing written", async () => {
    const body = Buffer.concat([frame(authorizeBytes()), frame(authorizeBytes())]);
    const outcome = await call(event(AUTHORIZE, body));
    expect(outcome.code).toBe(Code.Unimplemented);
    expect(outcome.message).toContain("exactly one request message, got 2");
    await expectNothingWritten();
  });

  it("no message at all -> UNIMPLEMENTED (gRPC's code for a cardinality violation)", async () => {
    const outcome = await call(event(AUTHORIZE, new Uint8Array(0)));
    expect(outcome.code).toBe(Code.Unimplemented);
    expect(outcome.message).toContain("missing request message");
  });

  it("a compressed-flag frame without negotiated compression -> INTERNAL (as gRPC says), nothing written", async () => {
    for (const headers of [{}, { "grpc-encoding": "identity" }] as Record<string, string>[]) {
      const outcome = await call(event(AUTHORIZE, frame(authorizeBytes(), { flags: 0x01 }), headers));
      expect(outcome.code).toBe(Code.Internal);
      expect(outcome.message).toContain("compressed");
    }
    await expectNothingWritten();
  });

  it("a grpc-encoding the server does not support -> UNIMPLEMENTED (gRPC compression spec)", async () => {
    const outcome = await call(
      event(AUTHORIZE, frame(authorizeBytes(), { flags: 0x01 }), { "grpc-encoding": "gzip" }),
    );
    expect(outcome.code).toBe(Code.Unimplemented);
    expect(outcome.message).toContain("gzip");
    await expectNothingWritten();
  });

  it("a trailer frame sent by the client -> INVALID_ARGUMENT", async () => {
    const outcome = await call(event(AUTHORIZE, frame(authorizeBytes(), { flags: 0x80 })));
    expect(outcome.code).toBe(Code.InvalidArgument);
    expect(outcome.message).toContain("trailer frame");
    await expectNothingWritten();
  });

  it("bytes that are not the request message -> INVALID_ARGUMENT", async () => {
    for (const junk of [
      Uint8Array.of(0xff, 0xff, 0xff, 0xff),
      Uint8Array.of(0x0a, 0x7f), // field 1, length 127, no bytes
      Uint8Array.of(0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), // varint too long
    ]) {
      const outcome = await call(event(AUTHORIZE, frame(junk)));
      expect(outcome.code).toBe(Code.InvalidArgument);
      expect(outcome.message).toContain("invalid request message");
    }
    await expectNothingWritten();
  });

  it("a text-mode body that is not base64 -> INVALID_ARGUMENT", async () => {
    const outcome = await call(event(AUTHORIZE, "***not base64***", {}, "application/grpc-web-text"));
    expect(outcome.code).toBe(Code.InvalidArgument);
    await expectNothingWritten();
  });

  it("a malformed grpc-timeout -> INVALID_ARGUMENT", async () => {
    const outcome = await call(event(AUTHORIZE, frame(authorizeBytes()), { "grpc-timeout": "soon" }));
    expect(outcome.code).toBe(Code.InvalidArgument);
    await expectNothingWritten();
  });

  it("a body over the configured limit -> RESOURCE_EXHAUSTED before anything is decoded", async () => {
    const small = createApiHandler({
      service: api.fx.service,
      verifier: createTokenVerifier(TEST_AUTH),
      healthProbe: async () => true,
      config: testApiConfig({ maxRequestBytes: 256 }),
      logger: testLogger(),
    });
    // Valid framing around a field too long for the limit; never parsed.
    const big = authorizeBytes({ description: "x".repeat(400) });
    for (const e of [
      event(AUTHORIZE, frame(big)),
      event(AUTHORIZE, Buffer.from(frame(big)).toString("base64"), {}, "application/grpc-web-text"),
      // Not even valid base64: the size alone refuses it.
      event(AUTHORIZE, "!".repeat(2000), {}, "application/grpc-web-text"),
    ]) {
      const outcome = readGrpcWeb(await invoke(small, e));
      expect(outcome.code).toBe(Code.ResourceExhausted);
    }
    await expectNothingWritten();
  });

  it("unauthenticated calls are refused before the body is read", async () => {
    const outcome = await call(grpcWebEvent(AUTHORIZE, { body: Uint8Array.of(1, 2, 3) }));
    expect(outcome.code).toBe(Code.Unauthenticated);
    await expectNothingWritten();
  });
});

describe("deadlines", () => {
  it("an already expired grpc-timeout -> DEADLINE_EXCEEDED, nothing written", async () => {
    const body = frame(
      toBinary(CreateAccountRequestSchema, create(CreateAccountRequestSchema, { currency: "EUR" })),
    );
    const outcome = await call(event(CREATE_ACCOUNT, body, { "grpc-timeout": "0m" }));
    expect(outcome.code).toBe(Code.DeadlineExceeded);
    await expectNothingWritten();
  });

  it("a grpc-timeout too long for any timer is no deadline at all, not an instant one", async () => {
    const outcome = await call(event(AUTHORIZE, frame(authorizeBytes()), { "grpc-timeout": "99999999H" }));
    expect(outcome.code).toBe(0);
  });

  it("a call stuck behind a ledger lock ends DEADLINE_EXCEEDED; a retry with the same key is safe", async () => {
    const payer = await api.fx.openFundedAccount(500n, "EUR", "alice");
    const key = uniqueKey("deadline");
    const body = frame(
      authorizeBytes({ idempotencyKey: key, payerAccountId: payer.accountId, amountCents: 200n }),
    );
    const locker = await api.fx.pool.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("SELECT 1 FROM balances WHERE account_id = $1 FOR UPDATE", [payer.accountId]);
      const outcome = await call(event(AUTHORIZE, body, { "grpc-timeout": "300m" }));
      expect(outcome.code).toBe(Code.DeadlineExceeded);
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    // The abandoned attempt may still commit once the lock is gone; the key
    // makes the retry return that outcome instead of paying twice.
    const retry = await call(event(AUTHORIZE, body));
    expect(retry.code).toBe(0);
    const balance = await api.fx.service.getAccountBalance(payer.accountId);
    expect(balance.availableCents).toBe(300n);
  });

  it("a call still running when the Lambda is about to time out -> DEADLINE_EXCEEDED", async () => {
    const payer = await api.fx.openFundedAccount(500n, "EUR", "alice");
    const locker = await api.fx.pool.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("SELECT 1 FROM balances WHERE account_id = $1 FOR UPDATE", [payer.accountId]);
      // 200 ms margin (default) out of 500 ms left.
      const e = event(AUTHORIZE, frame(authorizeBytes({ payerAccountId: payer.accountId })));
      const outcome = readGrpcWeb(await api.handler(e, lambdaContext(500)));
      expect(outcome.code).toBe(Code.DeadlineExceeded);
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
  });
});

describe("CORS", () => {
  it("answers a preflight from an allowed origin with what gRPC-web browsers need", async () => {
    const e = grpcWebEvent(AUTHORIZE, {
      method: "OPTIONS",
      contentType: null,
      headers: { origin: TEST_ORIGIN, "access-control-request-method": "POST" },
    });
    const result = await invoke(api.handler, e);
    expect(result.statusCode).toBe(204);
    expect(result.headers).toMatchObject({
      "access-control-allow-origin": TEST_ORIGIN,
      "access-control-allow-methods": "POST, OPTIONS",
      "access-control-allow-headers":
        "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization, traceparent, tracestate",
      vary: "origin",
    });
    await expectNothingWritten();
  });

  it("gives a foreign origin no CORS grant", async () => {
    const e = grpcWebEvent(AUTHORIZE, {
      method: "OPTIONS",
      contentType: null,
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    const result = await invoke(api.handler, e);
    expect(result.headers?.["access-control-allow-origin"]).toBeUndefined();
  });

  it("exposes grpc-status and grpc-message on answers, errors included", async () => {
    for (const e of [
      event(AUTHORIZE, frame(authorizeBytes()), { origin: TEST_ORIGIN }),
      event("/nope.v1.Nope/Call", frame(authorizeBytes()), { origin: TEST_ORIGIN }),
    ]) {
      const result = await invoke(api.handler, e);
      expect(result.headers).toMatchObject({
        "access-control-allow-origin": TEST_ORIGIN,
        "access-control-expose-headers": expect.stringContaining("grpc-status, grpc-message"),
      });
    }
  });
});

describe("error boundary", () => {
  const SECRET = "password=hunter2 at /srv/app/lib/secret.ts:42";
  const brokenStore = new Proxy({} as LedgerStore, {
    get: () => async () => {
      throw new TypeError(SECRET);
    },
  });

  it("turns a bug into INTERNAL without leaking its message or stack", async () => {
    const broken = createApiHandler({
      service: new PaymentService(brokenStore, { idempotencyKeyTtlSeconds: 60 }),
      verifier: createTokenVerifier(TEST_AUTH),
      healthProbe: async () => true,
      config: testApiConfig(),
      logger: testLogger(),
    });
    const result = await invoke(
      broken,
      event(
        BALANCE,
        frame(
          toBinary(
            GetAccountBalanceRequestSchema,
            create(GetAccountBalanceRequestSchema, { accountId: alice.accountId }),
          ),
        ),
      ),
    );
    const outcome = readGrpcWeb(result);
    expect(outcome).toMatchObject({ httpStatus: 200, code: Code.Internal, message: "internal error" });
    expect(JSON.stringify(result)).not.toContain("hunter2");
  });

  it("answers a well-formed INTERNAL even for an event it cannot read", async () => {
    const e = event(BALANCE, frame(new Uint8Array(0)));
    (e as { requestContext: unknown }).requestContext = undefined;
    const result = await invoke(api.handler, e);
    expect(readGrpcWeb(result)).toMatchObject({
      httpStatus: 200,
      code: Code.Internal,
      message: "internal error",
    });
  });
});
