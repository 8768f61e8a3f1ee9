/**
 * The nudge after a payment is an optimisation: a Lambda API that takes the
 * invoke and never answers must not hold back, or fail, the payment's answer.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AsyncLambdaInvoker } from "../../lib/aws/lambda-invoker.ts";
import { outboxConfig } from "../../lib/config.ts";
import { AuthorizePaymentResponseSchema, PaymentStatus } from "../../lib/gen/payment/v1/payment_pb.ts";
import { DrainStateRepository } from "../../lib/outbox/drain-state.ts";
import { lambdaOutboxNudge, type OutboxNudge } from "../../lib/outbox/nudge.ts";
import type { Account } from "../../lib/payments/model.ts";
import { readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";
import { type ApiFixture, apiFixture, authorizePaymentEvent } from "../support/api.ts";
import { uniqueKey } from "../support/ledger.ts";
import { type SilentEndpoint, silentEndpoint } from "../support/silent-endpoint.ts";

// The api's timeout in infra/functions.ts.
const API_TIMEOUT_MS = 10_000;

let api: ApiFixture;
let lambdaApi: SilentEndpoint;
let lambda: AsyncLambdaInvoker;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  // Loaded, as in a container that nudged before, so the invoke itself reaches the endpoint in time.
  await import("@aws-sdk/client-lambda");
  lambdaApi = await silentEndpoint();
  lambda = new AsyncLambdaInvoker(
    { region: "us-east-1", endpoint: lambdaApi.endpoint },
    { accessKeyId: "test", secretAccessKey: "test" },
  );
  let nudge: OutboxNudge | undefined;
  api = await apiFixture({ afterAuthorize: () => nudge?.afterCommit() });
  // The nudge as the api wires it, with the default settings.
  nudge = lambdaOutboxNudge(outboxConfig({}), lambda, new DrainStateRepository(api.fx.pool));
  alice = await api.fx.openFundedAccount(1_000n, "EUR", "alice");
  bob = await api.fx.openFundedAccount(0n, "EUR", "bob");
});

afterAll(async () => {
  await lambda?.close();
  await lambdaApi?.close();
  await api?.close();
});

describe("the api's nudge", () => {
  it("a Lambda API with no answer does not hold back the payment's answer: AUTHORIZED, its event in the outbox", async () => {
    const idempotencyKey = uniqueKey("nudge");
    const result = await api.handler(
      authorizePaymentEvent(await api.token("alice"), {
        idempotencyKey,
        payerAccountId: alice.accountId,
        payeeAccountId: bob.accountId,
        amountCents: 250n,
        currency: "EUR",
      }),
      lambdaContext(API_TIMEOUT_MS),
    );

    const answer = readGrpcWeb(result);
    expect(answer.code, answer.message).toBe(0);
    const message = answer.messages[0];
    if (!message) throw new Error("no response message");
    const response = fromBinary(AuthorizePaymentResponseSchema, message);
    expect(response.status).toBe(PaymentStatus.AUTHORIZED);
    // The nudge was tried, and given up on.
    expect(lambdaApi.requests.length).toBeGreaterThanOrEqual(1);
    const { rows } = await api.fx.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = $1",
      [response.paymentId],
    );
    expect(rows[0]?.n).toBe(1);
  });
});
