/**
 * Once a payment commits, its outcome is the answer. The nudge after it is
 * an optimisation: a Lambda API that takes the invoke and never answers, or
 * a drain-state row another session holds, must neither fail nor hold back
 * the answer, even within a short client deadline. The api handler as
 * dependencies.ts wires it, on a real database; only the Lambda API is a
 * silent HTTP endpoint.
 */
import { fromBinary } from "@bufbuild/protobuf";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type ApiHandler, createApiHandler } from "../../lib/api/create-api-handler.ts";
import { nudgeAfterPayments } from "../../lib/api/dependencies.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import { AsyncLambdaInvoker } from "../../lib/aws/lambda-invoker.ts";
import { outboxConfig } from "../../lib/config.ts";
import { pingDatabase } from "../../lib/db/ping.ts";
import { AuthorizePaymentResponseSchema, PaymentStatus } from "../../lib/gen/payment/v1/payment_pb.ts";
import { DrainStateRepository } from "../../lib/outbox/drain-state.ts";
import type { Account } from "../../lib/payments/model.ts";
import { readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";
import {
  type ApiFixture,
  apiFixture,
  authorizePaymentEvent,
  TEST_AUTH,
  testApiConfig,
  testLogger,
} from "../support/api.ts";
import { uniqueKey } from "../support/ledger.ts";
import { type SilentEndpoint, silentEndpoint } from "../support/silent-endpoint.ts";

// The api's timeout in infra/functions.ts.
const API_TIMEOUT_MS = 10_000;
// A client deadline well inside the nudge's own timeout (1 s by default).
const SHORT_DEADLINE = "400m";

let api: ApiFixture;
let lambdaApi: SilentEndpoint;
let lambda: AsyncLambdaInvoker;
let state: DrainStateRepository;
let alice: Account;
let bob: Account;
let holder: pg.PoolClient | undefined;

beforeAll(async () => {
  // Loaded, as in a container that nudged before, so the invoke itself reaches the endpoint in time.
  await import("@aws-sdk/client-lambda");
  lambdaApi = await silentEndpoint();
  lambda = new AsyncLambdaInvoker(
    { region: "us-east-1", endpoint: lambdaApi.endpoint },
    { accessKeyId: "test", secretAccessKey: "test" },
  );
  api = await apiFixture();
  state = new DrainStateRepository(api.fx.pool);
  alice = await api.fx.openFundedAccount(10_000n, "EUR", "alice");
  bob = await api.fx.openFundedAccount(0n, "EUR", "bob");
});

afterEach(async () => {
  await holder?.query("ROLLBACK");
  holder?.release();
  holder = undefined;
});

afterAll(async () => {
  await lambda?.close();
  await lambdaApi?.close();
  await api?.close();
});

/** Whether the last nudge (afterCommit) has settled. */
let nudgeSettled: boolean | undefined;

/**
 * The api handler with the nudge as the api wires it (default settings), in a
 * fresh container: nothing throttles its first nudge, here or fleet-wide.
 */
async function freshApi(): Promise<ApiHandler> {
  await api.fx.pool.query("UPDATE outbox_drain_state SET last_nudge_at = '-infinity'");
  const nudge = nudgeAfterPayments(outboxConfig({}), lambda, state);
  nudgeSettled = undefined;
  return createApiHandler({
    service: api.fx.service,
    verifier: createTokenVerifier(TEST_AUTH),
    healthProbe: () => pingDatabase(api.fx.pool, 1000),
    config: testApiConfig(),
    logger: testLogger(),
    ...nudge,
    afterAuthorize: (result) => {
      nudgeSettled = false;
      return nudge.afterAuthorize(result)?.finally(() => {
        nudgeSettled = true;
      });
    },
  });
}

async function pay(handler: ApiHandler, headers: Record<string, string> = {}) {
  const idempotencyKey = uniqueKey("nudge");
  const result = await handler(
    authorizePaymentEvent(
      await api.token("alice"),
      {
        idempotencyKey,
        payerAccountId: alice.accountId,
        payeeAccountId: bob.accountId,
        amountCents: 25n,
        currency: "EUR",
      },
      headers,
    ),
    lambdaContext(API_TIMEOUT_MS),
  );
  return { idempotencyKey, result };
}

/** The answer is OK with the payment AUTHORIZED, and the payment, its entries and its event are committed. */
async function expectAuthorized(result: APIGatewayProxyStructuredResultV2): Promise<void> {
  const answer = readGrpcWeb(result);
  expect(answer.code, answer.message).toBe(0);
  const message = answer.messages[0];
  if (!message) throw new Error("no response message");
  const response = fromBinary(AuthorizePaymentResponseSchema, message);
  expect(response.status).toBe(PaymentStatus.AUTHORIZED);
  const { rows } = await api.fx.pool.query<{ entries: number; events: number }>(
    `SELECT (SELECT count(*)::int FROM ledger_entries WHERE payment_id = $1) AS entries,
            (SELECT count(*)::int FROM outbox WHERE aggregate_id = $1) AS events`,
    [response.paymentId],
  );
  expect(rows[0]).toEqual({ entries: 2, events: 1 });
}

async function holdDrainState(): Promise<void> {
  holder = await api.fx.pool.connect();
  await holder.query("BEGIN");
  await holder.query("SELECT * FROM outbox_drain_state FOR UPDATE");
}

describe("a committed payment's answer and the nudge after it", () => {
  it("a Lambda API with no answer does not hold back the answer: AUTHORIZED, the nudge tried", async () => {
    const before = lambdaApi.requests.length;
    const { result } = await pay(await freshApi());
    await expectAuthorized(result);
    expect(lambdaApi.requests.length).toBeGreaterThan(before);
  });

  it("a stalled invoke within a short client deadline: still OK with the payment's outcome", async () => {
    const before = lambdaApi.requests.length;
    const { result } = await pay(await freshApi(), { "grpc-timeout": SHORT_DEADLINE });
    // The answer did not wait the nudge out (its own timeout is 1 s)...
    expect(nudgeSettled).toBe(false);
    await expectAuthorized(result);
    // ...and the nudge was made, after the answer, and stalled.
    await vi.waitFor(() => expect(lambdaApi.requests.length).toBeGreaterThan(before));
  });

  it("the drain-state row held by another session within a short client deadline: still OK", async () => {
    const handler = await freshApi();
    await holdDrainState();
    const before = lambdaApi.requests.length;
    const { result } = await pay(handler, { "grpc-timeout": SHORT_DEADLINE });
    await expectAuthorized(result);
    // The throttle lost to the holder at once, so nobody nudged.
    expect(lambdaApi.requests.length).toBe(before);
  });

  it("the shared throttle never waits for a held row: it loses at once", async () => {
    await api.fx.pool.query("UPDATE outbox_drain_state SET last_nudge_at = '-infinity'");
    await holdDrainState();
    expect(await state.claimNudge(0)).toBe(false);
    await holder?.query("ROLLBACK");
    expect(await state.claimNudge(0)).toBe(true);
  });
});
