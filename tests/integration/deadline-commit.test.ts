/**
 * Once the payment's statement is on its way to Postgres, the caller's answer
 * is what the ledger says: the committed payment, or an error with nothing
 * written. A deadline that passes while the statement runs or while its
 * answer travels back never turns a committed payment into DEADLINE_EXCEEDED.
 * Real handler, real Postgres, through a TCP proxy that can slow the answer.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiHandler, createApiHandler } from "../../lib/api/create-api-handler.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { databaseConfig } from "../../lib/config.ts";
import { createPool, type Pool } from "../../lib/db/pool.ts";
import {
  AuthorizePaymentRequestSchema,
  AuthorizePaymentResponseSchema,
  PaymentStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import type { Account } from "../../lib/payments/model.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";
import { TEST_AUTH, testApiConfig, testLogger } from "../support/api.ts";
import { type DelayingProxy, delayingProxy } from "../support/delaying-proxy.ts";
import { brokenInvariants, checkInvariantsAfterEach } from "../support/invariants.ts";
import { type LedgerFixture, ledgerFixture, tableCounts, uniqueKey } from "../support/ledger.ts";

let fx: LedgerFixture;
let proxy: DelayingProxy;
let pool: Pool;
let handler: ApiHandler;
let alice: Account;
let bob: Account;
let token: string;

beforeAll(async () => {
  fx = await ledgerFixture();
  alice = await fx.openFundedAccount(1_000_000n, "EUR", "alice");
  bob = await fx.openFundedAccount(0n, "EUR", "bob");
  proxy = await delayingProxy(fx.db.url);
  pool = createPool({ ...databaseConfig({ DATABASE_URL: proxy.url }), poolMax: 2 });
  handler = createApiHandler({
    service: new PaymentService(new PgLedgerStore(pool), { idempotencyKeyTtlSeconds: 86_400 }),
    verifier: createTokenVerifier(TEST_AUTH),
    healthProbe: async () => true,
    config: testApiConfig(),
    logger: testLogger(),
  });
  token = await signLocalToken(TEST_AUTH, { subject: "alice" });
});

afterAll(async () => {
  await pool?.end();
  await proxy?.close();
  await fx?.close();
});
// Every test here moves money through the real path: the ledger keeps every invariant after each.
checkInvariantsAfterEach(() => fx?.pool);

async function pay(key: string, grpcTimeout: string) {
  const body = toBinary(
    AuthorizePaymentRequestSchema,
    create(AuthorizePaymentRequestSchema, {
      idempotencyKey: key,
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 1n,
      currency: "EUR",
    }),
  );
  const event = grpcWebEvent("/payment.v1.PaymentService/AuthorizePayment", {
    body: frame(body),
    headers: { authorization: `Bearer ${token}`, "grpc-timeout": grpcTimeout },
  });
  const outcome = readGrpcWeb(await handler(event, lambdaContext()));
  const message = outcome.messages[0];
  return { ...outcome, response: message ? fromBinary(AuthorizePaymentResponseSchema, message) : undefined };
}

async function paymentsWithKey(key: string): Promise<number> {
  const { rows } = await fx.pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM payments WHERE idempotency_key = $1",
    [key],
  );
  return Number(rows[0]?.n);
}

/** Until no statement of this database is running authorize_payment (an abandoned one finishes on its own). */
async function settled(): Promise<void> {
  for (;;) {
    const { rows } = await fx.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND state = 'active' AND query LIKE '%authorize_payment(%'
          AND pid <> pg_backend_pid()`,
    );
    if (Number(rows[0]?.n) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("a deadline that passes once the payment's statement is sent", () => {
  it("a commit whose answer arrives after the deadline is answered AUTHORIZED, not DEADLINE_EXCEEDED", async () => {
    // Warm the pool's connections, so only the payment's own answer is slowed.
    await pay(uniqueKey("warm"), "5S");
    const key = uniqueKey("slow-answer");
    // Postgres commits within milliseconds; its answer reaches the api 600 ms later, well past the 250 ms deadline.
    proxy.delayAnswerTo("authorize_payment(", 600);
    const outcome = await pay(key, "250m");
    expect(outcome.code, outcome.message).toBe(0);
    expect(outcome.response?.status).toBe(PaymentStatus.AUTHORIZED);
    expect(await paymentsWithKey(key)).toBe(1);
    const stored = await fx.service.getPayment(outcome.response?.paymentId ?? "");
    expect(stored.status).toBe("AUTHORIZED");
  });

  it("under every timing of a lock released around the deadline: AUTHORIZED and committed, or DEADLINE_EXCEEDED and nothing written", async () => {
    const outcomes = { authorized: 0, deadlineExceeded: 0 };
    // The payment waits on alice's balance row, which a second session holds until
    // `offset` ms from the call's 300 ms deadline, then releases.
    for (const offset of [-80, -40, -20, -10, -5, -2, 0, 2, 5, 10, 20]) {
      const key = uniqueKey(`race${offset}`);
      const before = await tableCounts(fx.pool);
      const locker = await fx.pool.connect();
      try {
        await locker.query("BEGIN");
        await locker.query("SELECT 1 FROM balances WHERE account_id = $1 FOR UPDATE", [alice.accountId]);
        const release = new Promise<void>((resolve) =>
          setTimeout(
            () => {
              locker.query("ROLLBACK").then(
                () => resolve(),
                () => resolve(),
              );
            },
            Math.max(0, 300 + offset),
          ),
        );
        const outcome = await pay(key, "300m");
        await release;
        await settled();
        const committed = await paymentsWithKey(key);
        if (outcome.code === 0) {
          outcomes.authorized += 1;
          expect(outcome.response?.status, `offset ${offset}`).toBe(PaymentStatus.AUTHORIZED);
          expect(committed, `offset ${offset}: answered AUTHORIZED`).toBe(1);
        } else {
          outcomes.deadlineExceeded += 1;
          expect(outcome.code, `offset ${offset}: ${outcome.message}`).toBe(Code.DeadlineExceeded);
          expect(committed, `offset ${offset}: answered DEADLINE_EXCEEDED`).toBe(0);
          expect(await tableCounts(fx.pool)).toEqual(before);
        }
      } finally {
        locker.release();
      }
    }
    // Both answers occur across the offsets: the lock released well before the deadline pays.
    expect(outcomes.authorized).toBeGreaterThan(0);
    expect(outcomes.deadlineExceeded).toBeGreaterThan(0);
    expect(await brokenInvariants(fx.pool)).toEqual({});
  });
});
