/**
 * A function that fails under an asynchronous invoke must not take serverless
 * offline down: the failure is logged, retried as Lambda retries async
 * invocations (maximumRetryAttempts, with delays), then discarded (on AWS: the
 * on-failure destination), and the api keeps serving throughout.
 *
 * Failures are real database errors: a trigger on outbox updates sleeps past
 * the statement timeout, so the drain's claim fails with a statement timeout
 * while the api (which only inserts outbox rows) is untouched; a trigger on
 * dead_letters inserts fails deadLetter until the test lets it through.
 */
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pool } from "../../lib/db/pool.ts";
import { PaymentStatus } from "../../lib/gen/payment/v1/payment_pb.ts";
import { newId } from "../../lib/ids.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import type { OfflineHandle } from "../../tools/local-services/offline.ts";
import { readTopics, testKafka } from "../support/kafka-topics.ts";
import { type OfflineStack, startOfflineStack } from "../support/offline-stack.ts";

const AUTH_ENV = {
  JWT_SECRET: "e2e-async-failures-secret-0123456789abcdef",
  JWT_ISSUER: "https://issuer.e2e.test",
  JWT_AUDIENCE: "payment-ledger-e2e",
};
// Long enough for the test to flip its switch between two attempts on a busy machine.
const RETRY_DELAY_MS = 1_000;

let stack: OfflineStack;
let pool: Pool;
let offline: OfflineHandle;
let lambda: LambdaClient;
let prefix: string;
const kafkaEnv = () => stack.kafkaEnv;
const clientAs = (subject: string, operator = false) => stack.clientAs(subject, operator);

beforeAll(async () => {
  stack = await startOfflineStack({
    name: "e2e_async",
    auth: AUTH_ENV,
    // The functions' statement bound is their role's default, set by migrate: 2 s here.
    statementTimeoutMs: 2000,
    prepare: async (pool) => {
      await pool.query(`
        CREATE FUNCTION e2e_stall() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$;
        CREATE TABLE e2e_switch (open boolean NOT NULL);
        CREATE FUNCTION e2e_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM e2e_switch WHERE open) THEN
            RAISE EXCEPTION 'e2e: dead_letters refused';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER e2e_refuse BEFORE INSERT ON dead_letters FOR EACH ROW EXECUTE FUNCTION e2e_refuse();
      `);
    },
    env: {
      // Only the api's nudge starts the drain here.
      DRAIN_SCHEDULE: "off",
      OUTBOX_NUDGE_ENABLED: "true",
      OUTBOX_NUDGE_MIN_INTERVAL_MS: "0",
      SLS_OFFLINE_ASYNC_RETRY_DELAY_MS: String(RETRY_DELAY_MS),
    },
  });
  ({ pool, offline, lambda, prefix } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

/** Lines offline printed that match, counted from `since` (an offset into its output). */
function linesMatching(pattern: RegExp, since = 0): string[] {
  return offline
    .output()
    .slice(since)
    .split("\n")
    .filter((line) => pattern.test(line));
}

async function waitForLines(
  pattern: RegExp,
  count: number,
  since = 0,
  timeoutMs = 45_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = linesMatching(pattern, since);
    if (lines.length >= count) return lines;
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} lines matching ${pattern}\n${offline.output().slice(-6000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function invokeAsync(functionName: string, event: unknown): Promise<number | undefined> {
  const out = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: "Event",
      Payload: new TextEncoder().encode(JSON.stringify(event)),
    }),
  );
  return out.StatusCode;
}

async function waitUntilPublished(timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL");
    if (rows[0].n === 0) return;
    if (Date.now() > deadline) throw new Error(`outbox not drained\n${offline.output().slice(-6000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function deadLetterEnvelope(eventId: string) {
  return {
    event_id: eventId,
    aggregate_type: "Payment",
    aggregate_id: newId(),
    event_type: "PaymentAuthorized",
    payload: {},
    timestamp: new Date().toISOString(),
    retry_count: 5,
    failed_at: new Date().toISOString(),
    error: "MESSAGE_TOO_LARGE: The request included a message larger than the max message size",
  };
}

describe("serverless offline: failing async invocations", () => {
  it("a drain that hits a statement timeout after the api's nudge is logged, not retried (maximumRetryAttempts 0), and the api keeps serving", async () => {
    await pool.query(
      "CREATE TRIGGER e2e_stall BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION e2e_stall()",
    );
    const operator = await clientAs("ops", true);
    const since = offline.output().length;
    const open = async (owner: string, system: boolean) =>
      (await operator.createAccount({ owner, currency: "EUR", system })).account?.accountId ?? "";
    const treasury = await open("treasury", true);
    const alice = await open("alice", false);
    const funded = await operator.authorizePayment({
      idempotencyKey: "async-fund-alice",
      payerAccountId: treasury,
      payeeAccountId: alice,
      amountCents: 5_000n,
      currency: "EUR",
      description: "funding",
    });
    expect(funded.status).toBe(PaymentStatus.AUTHORIZED);

    const [failure] = await waitForLines(/\(λ: drainOutbox\) async invocation failed/, 1, since);
    expect(failure).toContain("attempt 1 of 1, maximumRetryAttempts 0");
    expect(failure).toContain("no retries left");
    expect(failure).toMatch(/statement timeout/);
    await waitForLines(
      /\(λ: drainOutbox\) async invocation discarded \(no on-failure destination\)/,
      1,
      since,
    );

    // The emulator is still up: the api answers, and a new payment still commits.
    const balance = await (await clientAs("alice")).getAccountBalance({ accountId: alice });
    expect(balance.availableBalanceCents).toBe(5_000n);

    // Once the database is healthy again, the next nudge's drain publishes everything.
    await pool.query("DROP TRIGGER e2e_stall ON outbox");
    const bob = await open("bob", false);
    const paid = await (await clientAs("alice")).authorizePayment({
      idempotencyKey: "async-coffee",
      payerAccountId: alice,
      payeeAccountId: bob,
      amountCents: 250n,
      currency: "EUR",
      description: "coffee",
    });
    expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
    await waitUntilPublished();
    const messages = await readTopics(testKafka(kafkaEnv()), [topicFor(prefix, "PaymentAuthorized")]);
    expect(new Set(messages.map((m) => m.key))).toEqual(new Set([funded.paymentId, paid.paymentId]));
  });

  it("deadLetter (maximumRetryAttempts 2) is retried after a delay and succeeds once the database lets it", async () => {
    const since = offline.output().length;
    const eventId = newId();
    expect(await invokeAsync("payment-ledger-local-deadLetter", deadLetterEnvelope(eventId))).toBe(202);

    const [first] = await waitForLines(/\(λ: deadLetter\) async invocation failed/, 1, since);
    expect(first).toContain("attempt 1 of 3, maximumRetryAttempts 2");
    expect(first).toContain(`retrying in ${RETRY_DELAY_MS / 1000} s`);
    expect(first).toContain("e2e: dead_letters refused");
    const second = (await waitForLines(/\(λ: deadLetter\) async invocation failed/, 2, since))[1];
    expect(second).toContain("attempt 2 of 3");
    expect(second).toContain(`retrying in ${(2 * RETRY_DELAY_MS) / 1000} s`);

    await pool.query("INSERT INTO e2e_switch VALUES (true)");
    await waitForLines(/\(λ: deadLetter\) async invocation succeeded on attempt 3 of 3/, 1, since);
    const { rows } = await pool.query("SELECT published_at FROM dead_letters WHERE event_id = $1", [eventId]);
    expect(rows).toHaveLength(1);
    expect(rows[0].published_at).not.toBeNull();
    await pool.query("DELETE FROM e2e_switch");
  });

  it("deadLetter failing every attempt ends at its on-failure destination, and the api still answers", async () => {
    const since = offline.output().length;
    const eventId = newId();
    expect(await invokeAsync("payment-ledger-local-deadLetter", deadLetterEnvelope(eventId))).toBe(202);

    const failures = await waitForLines(/\(λ: deadLetter\) async invocation failed/, 3, since);
    expect(failures.map((line) => /attempt (\d) of 3/.exec(line)?.[1])).toEqual(["1", "2", "3"]);
    const [discarded] = await waitForLines(/\(λ: deadLetter\) async invocation discarded/, 1, since);
    expect(discarded).toContain("on-failure destination");
    expect(discarded).toContain("DeadLetterFailuresQueue");
    expect(discarded).toContain(eventId);

    const health = await fetch(`${offline.httpUrl}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: new Uint8Array([0, 0, 0, 0, 0]),
    });
    expect(health.status).toBe(200);
    expect(await health.text()).toContain("grpc-status: 0");
  });
});
