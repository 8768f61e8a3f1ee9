/**
 * The deployed shape, locally: `serverless offline` runs the real esbuild
 * bundles. Calls go through its HTTP API emulation with a gRPC-web client
 * (binary), and the drain runs through its Lambda Invoke API with the AWS SDK,
 * exactly as the schedule and the api's nudge reach it. The drain's own async
 * invoke of deadLetter goes through the same Lambda API.
 */
import { request } from "node:http";
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig } from "../../lib/config.ts";
import type { Pool } from "../../lib/db/pool.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import {
  EntryDirection,
  PaymentErrorCode,
  PaymentService,
  PaymentStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import { HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_SCHEMA } from "../../lib/kafka/messages.ts";
import type { OfflineHandle } from "../../tools/local-services/offline.ts";
import { readTopics, testKafka } from "../support/kafka-topics.ts";
import { type OfflineStack, startOfflineStack } from "../support/offline-stack.ts";
import { oldDeadLetterErrors, oldEventErrors } from "../support/old-contract.ts";

const AUTH_ENV = {
  JWT_SECRET: "e2e-offline-secret-0123456789abcdef0123",
  JWT_ISSUER: "https://issuer.e2e.test",
  JWT_AUDIENCE: "payment-ledger-e2e",
};
const auth = authConfig(AUTH_ENV);
const ALLOWED_ORIGIN = "http://localhost:5173";
// A name besides the loopback ones that this run's offline answers to (DEV_ALLOWED_HOSTS).
const CONFIGURED_HOST = "ledger.e2e.test";
const validators = createEventValidators();

let stack: OfflineStack;
let pool: Pool;
let offline: OfflineHandle;
let kafka: Kafka;
let lambda: LambdaClient;
const topics = () => stack.topics;
const clientAs = (subject: string, operator = false) => stack.clientAs(subject, operator);

beforeAll(async () => {
  stack = await startOfflineStack({
    name: "e2e_offline",
    auth: AUTH_ENV,
    env: {
      // This test decides when the drain runs: no schedule, no nudge.
      DRAIN_SCHEDULE: "off",
      OUTBOX_NUDGE_ENABLED: "false",
      CORS_ALLOWED_ORIGINS: ALLOWED_ORIGIN,
      DEV_ALLOWED_HOSTS: CONFIGURED_HOST,
    },
  });
  ({ pool, offline, lambda } = stack);
  kafka = testKafka(stack.kafkaEnv);
});

afterAll(async () => {
  await stack?.stop();
});

const CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

/** Runs drainOutbox once through the Lambda Invoke API, as the schedule does; returns its summary. */
async function invokeDrain(): Promise<Record<string, unknown>> {
  const scheduled = { source: "aws.events", "detail-type": "Scheduled Event", detail: {} };
  const out = await lambda.send(
    new InvokeCommand({
      FunctionName: "payment-ledger-local-drainOutbox",
      Payload: new TextEncoder().encode(JSON.stringify(scheduled)),
    }),
  );
  const payload = new TextDecoder().decode(out.Payload);
  expect(out.FunctionError, payload).toBeUndefined();
  expect(out.StatusCode).toBe(200);
  return JSON.parse(payload) as Record<string, unknown>;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\n${offline.output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("serverless offline: gRPC-web through the api bundle", () => {
  const ids = { treasury: "", alice: "", bob: "", authorized: "", declined: "", funding: "" };

  it("opens accounts, funds, authorizes and declines, and reads it all back", async () => {
    const operator = await clientAs("ops", true);
    const alice = await clientAs("alice");

    const open = async (owner: string, system: boolean) =>
      (await operator.createAccount({ owner, currency: "EUR", system })).account?.accountId ?? "";
    ids.treasury = await open("treasury", true);
    ids.alice = await open("alice", false);
    ids.bob = await open("bob", false);

    const funding = await operator.authorizePayment({
      idempotencyKey: "e2e-fund-alice",
      payerAccountId: ids.treasury,
      payeeAccountId: ids.alice,
      amountCents: 10_000n,
      currency: "EUR",
      description: "funding",
    });
    expect(funding.status).toBe(PaymentStatus.AUTHORIZED);
    ids.funding = funding.paymentId;

    // amount_cents 2500 is a two-byte varint with the high bit set: the body must arrive as bytes.
    // Sent in the client's trace: its Kafka message must continue it.
    const paid = await alice.authorizePayment(
      {
        idempotencyKey: "e2e-coffee",
        payerAccountId: ids.alice,
        payeeAccountId: ids.bob,
        amountCents: 2_500n,
        currency: "EUR",
        description: "coffee",
      },
      { headers: { traceparent: `00-${CLIENT_TRACE_ID}-00f067aa0ba902b7-01` } },
    );
    expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
    ids.authorized = paid.paymentId;

    const declined = await alice.authorizePayment({
      idempotencyKey: "e2e-yacht",
      payerAccountId: ids.alice,
      payeeAccountId: ids.bob,
      amountCents: 1_000_000n,
      currency: "EUR",
      description: "yacht",
    });
    expect(declined.status).toBe(PaymentStatus.DECLINED);
    expect(declined.error?.code).toBe(PaymentErrorCode.INSUFFICIENT_FUNDS);
    ids.declined = declined.paymentId;

    const payment = (await alice.getPayment({ paymentId: ids.authorized })).payment;
    expect(payment).toMatchObject({
      paymentId: ids.authorized,
      payerAccountId: ids.alice,
      payeeAccountId: ids.bob,
      amountCents: 2_500n,
      currency: "EUR",
      status: PaymentStatus.AUTHORIZED,
      description: "coffee",
    });

    const balance = await alice.getAccountBalance({ accountId: ids.alice });
    expect(balance.availableBalanceCents).toBe(7_500n);
    expect(balance.currency).toBe("EUR");

    const statement = await alice.listLedgerEntries({ accountId: ids.alice, pageSize: 10 });
    expect(
      statement.entries.map((e) => [e.paymentId, e.direction, e.amountCents, e.balanceAfterCents]),
    ).toEqual([
      [ids.authorized, EntryDirection.DEBIT, 2_500n, 7_500n],
      [ids.funding, EntryDirection.CREDIT, 10_000n, 10_000n],
    ]);
  });

  it("answers bad input and a missing token with precise gRPC statuses", async () => {
    const alice = await clientAs("alice");
    const invalid = await alice.getPayment({ paymentId: "not-a-ulid" }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ConnectError);
    expect((invalid as ConnectError).code).toBe(Code.InvalidArgument);

    const anonymous = createClient(
      PaymentService,
      createGrpcWebTransport({ baseUrl: offline.httpUrl, useBinaryFormat: true }),
    );
    const refused = await anonymous.getAccountBalance({ accountId: ids.alice }).catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe(Code.Unauthenticated);
  });

  it("drainOutbox, invoked through the Lambda API, publishes valid envelopes to the right topics", async () => {
    const summary = await invokeDrain();
    expect(summary).toMatchObject({ published: 3, deadLettered: 0 });

    const messages = await readTopics(kafka, [topics().authorized, topics().declined]);
    const byPayment = new Map(messages.map((m) => [m.key, m]));
    expect(messages).toHaveLength(3);
    for (const [paymentId, topic, type] of [
      [ids.funding, topics().authorized, "PaymentAuthorized"],
      [ids.authorized, topics().authorized, "PaymentAuthorized"],
      [ids.declined, topics().declined, "PaymentDeclined"],
    ] as const) {
      const message = byPayment.get(paymentId);
      expect(message?.topic, paymentId).toBe(topic);
      const envelope = JSON.parse(message?.value ?? "{}") as Record<string, unknown>;
      expect(validators.event(envelope)).toMatchObject({ ok: true });
      expect(oldEventErrors(envelope)).toEqual([]);
      expect(envelope).toMatchObject({ event_type: type, aggregate_id: paymentId });
      expect(message?.headers).toEqual({
        [HEADER_EVENT_ID]: envelope.event_id,
        [HEADER_EVENT_TYPE]: type,
        [HEADER_SCHEMA]: type === "PaymentAuthorized" ? "payment_authorized" : "payment_declined",
        traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
      });
    }
    // The coffee payment's trace is the one its client sent; the others started their own.
    const traceOf = (paymentId: string) => byPayment.get(paymentId)?.headers.traceparent?.split("-")[1];
    expect(traceOf(ids.authorized)).toBe(CLIENT_TRACE_ID);
    expect(traceOf(ids.funding)).not.toBe(CLIENT_TRACE_ID);
  });

  it("a poisoned event goes to payments.dlq through the real async invoke of deadLetter", async () => {
    const alice = await clientAs("alice");
    const paid = await alice.authorizePayment({
      idempotencyKey: "e2e-poison",
      payerAccountId: ids.alice,
      payeeAccountId: ids.bob,
      amountCents: 100n,
      currency: "EUR",
      description: "to be poisoned",
    });
    // The payload no longer matches schemas/payment_authorized.json.
    const { rows } = await pool.query<{ id: string }>(
      `UPDATE outbox SET payload = payload || '{"amount_cents": -5}'::jsonb
       WHERE aggregate_id = $1 RETURNING id`,
      [paid.paymentId],
    );
    const eventId = rows[0]?.id;
    expect(eventId).toBeDefined();

    const summary = await invokeDrain();
    expect(summary).toMatchObject({ published: 0, deadLettered: 1 });

    // deadLetter runs asynchronously (InvocationType Event), as on AWS.
    const recorded = await waitFor("the dead letter to be recorded and published", async () => {
      const r = await pool.query<{ error: string; published_at: Date | null }>(
        "SELECT error, published_at FROM dead_letters WHERE event_id = $1",
        [eventId],
      );
      return r.rows[0]?.published_at ? r.rows[0] : undefined;
    });
    expect(recorded.error).toMatch(/amount_cents/);

    const dlq = await readTopics(kafka, [topics().dlq]);
    expect(dlq).toHaveLength(1);
    const letter = JSON.parse(dlq[0]?.value ?? "{}") as Record<string, unknown>;
    expect(validators.deadLetter(letter)).toMatchObject({ ok: true });
    expect(oldDeadLetterErrors(letter)).toEqual([]);
    expect(letter).toMatchObject({
      event_id: eventId,
      aggregate_id: paid.paymentId,
      event_type: "PaymentAuthorized",
    });
    expect(dlq[0]?.key).toBe(paid.paymentId);
    expect(dlq[0]?.headers).toMatchObject({
      [HEADER_EVENT_TYPE]: "PaymentAuthorized",
      [HEADER_SCHEMA]: "dead_letter",
    });

    const outbox = await pool.query<{ dead_lettered_at: Date | null; published_at: Date | null }>(
      "SELECT dead_lettered_at, published_at FROM outbox WHERE id = $1",
      [eventId],
    );
    expect(outbox.rows[0]?.dead_lettered_at).not.toBeNull();
    expect(outbox.rows[0]?.published_at).toBeNull();
  });
});

describe("serverless offline: CORS is the function's policy, not the emulator's", () => {
  const path = "/payment.v1.PaymentService/GetAccountBalance";
  const preflight = (origin: string) =>
    fetch(`${offline.httpUrl}${path}`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-grpc-web",
      },
    });

  it.each(["null", "https://evil.example", "http://localhost:5174"])(
    "a preflight from %s gets no grant, and never credentials",
    async (origin) => {
      const response = await preflight(origin);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(response.headers.get("access-control-allow-credentials")).toBeNull();
      expect(response.headers.get("access-control-allow-headers")).toBeNull();
    },
  );

  it("a preflight from CORS_ALLOWED_ORIGINS gets exactly the function's grant, without credentials", async () => {
    const response = await preflight(ALLOWED_ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(response.headers.get("access-control-allow-headers")).toBe(
      "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization, traceparent, tracestate",
    );
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("a call from a foreign origin is answered without any CORS grant", async () => {
    const token = await signLocalToken(auth, { subject: "mallory" });
    const response = await fetch(`${offline.httpUrl}${path}`, {
      method: "POST",
      headers: {
        origin: "null",
        authorization: `Bearer ${token}`,
        "content-type": "application/grpc-web+proto",
      },
      body: new Uint8Array([0, 0, 0, 0, 0]),
    });
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });
});

/** A POST with a Host header of the caller's choice (fetch does not let one set Host). */
function post(url: string, host: string, headers: Record<string, string>, body: Uint8Array | string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const target = new URL(url);
      const req = request(
        {
          method: "POST",
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          headers: { ...headers, host },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.once("error", reject);
      req.end(body);
    },
  );
}

describe("serverless offline answers only allow-listed Host names (DNS rebinding)", () => {
  const call = (host: string) =>
    post(
      `${offline.httpUrl}/payment.v1.PaymentService/GetAccountBalance`,
      host,
      { "content-type": "application/grpc-web+proto" },
      new Uint8Array([0, 0, 0, 0, 0]),
    );
  const invoke = (host: string) =>
    post(
      `${offline.lambdaEndpoint}/2015-03-31/functions/payment-ledger-local-drainOutbox/invocations`,
      host,
      { "content-type": "application/json" },
      JSON.stringify({ source: "aws.events", "detail-type": "Scheduled Event", detail: {} }),
    );

  it.each(["rebind.attacker.example", "localhost.evil"])(
    "a call or an invoke with Host %s gets 403 and reaches no function",
    async (name) => {
      for (const answer of [
        await call(`${name}:${new URL(offline.httpUrl).port}`),
        await invoke(`${name}:${new URL(offline.lambdaEndpoint).port}`),
      ]) {
        expect(answer.status).toBe(403);
        expect(answer.headers["grpc-status"]).toBeUndefined();
        expect(answer.body).not.toContain("grpc-status");
        expect(answer.body).toContain("DEV_ALLOWED_HOSTS");
      }
    },
  );

  it.each(["localhost", "127.0.0.1", "[::1]", CONFIGURED_HOST])(
    "Host %s reaches the api (which then wants a token)",
    async (name) => {
      const answer = await call(`${name}:${new URL(offline.httpUrl).port}`);
      expect(answer.status).toBe(200);
      // In the headers (trailers-only) or in the trailer frame.
      expect(answer.headers["grpc-status"] ?? /grpc-status:\s*(\d+)/.exec(answer.body)?.[1]).toBe("16");
    },
  );
});
