/**
 * One payment, one trace: the W3C traceparent a gRPC-web client sends goes
 * through the real api handler into the outbox row, out of the drain as a
 * Kafka header, through the dead-letter function and a redrive, and into the
 * sample consumer's log line. Real Postgres, real broker.
 */
import { fromBinary } from "@bufbuild/protobuf";
import type { Consumer } from "kafkajs";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApiHandler } from "../../lib/api/create-api-handler.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { type InboundMessage, InboxProcessor, type ProcessResult } from "../../lib/consumer/inbox.ts";
import { describeResult, startInboxConsumer } from "../../lib/consumer/run.ts";
import { pingDatabase } from "../../lib/db/ping.ts";
import { redriveDeadLetter } from "../../lib/dead-letters/redrive.ts";
import { AuthorizePaymentResponseSchema } from "../../lib/gen/payment/v1/payment_pb.ts";
import { newId } from "../../lib/ids.ts";
import { createLogger } from "../../lib/logging.ts";
import { parseTraceparent } from "../../lib/observability/trace-context.ts";
import type { Account } from "../../lib/payments/model.ts";
import { readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";
import { authorizePaymentEvent, TEST_AUTH, testApiConfig } from "../support/api.ts";
import {
  createTopics,
  type ReceivedMessage,
  readTopics,
  uniqueTopicPrefix,
} from "../support/kafka-topics.ts";
import {
  drainWithDeadLetters,
  insertOutboxEvents,
  outboxTestContext,
  validators,
} from "../support/outbox.ts";

const ctx = outboxTestContext();

// The client's trace and span, as a browser or a gRPC client would send them.
const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;

let payer: Account;
let payee: Account;

beforeAll(async () => {
  payer = await ctx.fx.openFundedAccount(1_000n, "EUR", "alice");
  payee = await ctx.fx.openFundedAccount(0n, "EUR", "bob");
});
afterEach(() => vi.restoreAllMocks());

/** The api handler as the Lambda builds it; at INFO its log lines can be read. */
function api(logLevel: "INFO" | "SILENT" = "SILENT") {
  return createApiHandler({
    service: ctx.fx.service,
    verifier: createTokenVerifier(TEST_AUTH),
    healthProbe: () => pingDatabase(ctx.fx.pool, 1000),
    config: testApiConfig(),
    logger: createLogger({ function: "api", logLevel, env: {} }),
  });
}

/** Runs `work`, returning the JSON log lines written to stdout meanwhile (and hiding them). */
async function logLinesDuring(work: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    for (const line of text.split("\n")) {
      if (line.startsWith("{")) lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    return true;
  });
  try {
    await work();
  } finally {
    vi.restoreAllMocks();
  }
  return lines;
}

async function pay(headers: Record<string, string>, logLevel: "INFO" | "SILENT" = "SILENT"): Promise<string> {
  const token = await signLocalToken(TEST_AUTH, { subject: "alice" });
  const result = await api(logLevel)(
    authorizePaymentEvent(
      token,
      {
        idempotencyKey: `trace-${newId()}`,
        payerAccountId: payer.accountId,
        payeeAccountId: payee.accountId,
        amountCents: 1n,
        currency: "EUR",
        description: "traced",
      },
      { "x-grpc-web": "1", ...headers },
    ),
    lambdaContext(),
  );
  const answer = readGrpcWeb(result);
  expect(answer.code).toBe(0);
  const message = answer.messages[0];
  if (!message) throw new Error("no response message");
  return fromBinary(AuthorizePaymentResponseSchema, message).paymentId;
}

async function storedTraceparent(paymentId: string): Promise<string | null> {
  const { rows } = await ctx.fx.pool.query<{ traceparent: string | null }>(
    "SELECT traceparent FROM outbox WHERE aggregate_id = $1",
    [paymentId],
  );
  expect(rows).toHaveLength(1);
  return rows[0]?.traceparent ?? null;
}

function messageFor(messages: ReceivedMessage[], paymentId: string): ReceivedMessage {
  const found = messages.filter((m) => m.key === paymentId);
  expect(found).toHaveLength(1);
  return found[0] as ReceivedMessage;
}

describe("trace context", () => {
  it("continues the client's trace from the gRPC-web call through the outbox to the Kafka header, and logs it", async () => {
    const prefix = uniqueTopicPrefix();
    const topic = `${prefix}.paymentauthorized`;
    await createTopics(ctx.kafka, [topic, `${prefix}.dlq`]);

    let paymentId = "";
    const lines = await logLinesDuring(async () => {
      paymentId = await pay({ traceparent: CLIENT_TRACEPARENT }, "INFO");
    });
    // The access log line of the call carries the trace, and the api's own span.
    const rpcLine = lines.find((line) => line.message === "rpc");
    expect(rpcLine).toMatchObject({ traceId: CLIENT_TRACE });
    expect(rpcLine?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(rpcLine?.spanId).not.toBe(CLIENT_SPAN);

    // Stored: same trace, the api's span as the parent of what follows.
    const stored = parseTraceparent(await storedTraceparent(paymentId));
    expect(stored).toEqual({ traceId: CLIENT_TRACE, spanId: rpcLine?.spanId, flags: "01" });

    const { drain } = drainWithDeadLetters(ctx, prefix);
    // (Other events of this file's database may leave with it: the funding payments.)
    expect((await drain.run()).published).toBeGreaterThanOrEqual(1);
    const message = messageFor(await readTopics(ctx.kafka, [topic]), paymentId);
    expect(parseTraceparent(message.headers.traceparent)).toEqual(stored);

    // The sample consumer continues it: its span is a child in the same trace, and its line names the trace.
    const eventId = (await ctx.fx.pool.query("SELECT id FROM outbox WHERE aggregate_id = $1", [paymentId]))
      .rows[0]?.id as string;
    const consumerName = `trace-${newId()}`;
    const processor = new InboxProcessor({
      pool: ctx.fx.pool,
      consumer: consumerName,
      validators,
      topics: { prefix, dlq: `${prefix}.dlq` },
      effect: async () => {},
    });
    const seen = await consumeUntil(
      processor,
      consumerName,
      [topic],
      (result) => result.status === "processed" && result.event.eventId === eventId,
    );
    expect(seen.message.trace?.traceId).toBe(CLIENT_TRACE);
    expect(seen.message.trace?.spanId).not.toBe(stored?.spanId);
    expect(describeResult(seen.result, seen.message)).toContain(`trace=${CLIENT_TRACE}`);
  });

  it("starts a trace when the client sends none, or a malformed one, and stores only well-formed ones", async () => {
    const cases: Record<string, string>[] = [
      {},
      { traceparent: "00-not-a-trace" },
      { traceparent: `00-${"0".repeat(32)}-${CLIENT_SPAN}-01` },
    ];
    for (const headers of cases) {
      const paymentId = await pay(headers);
      const stored = parseTraceparent(await storedTraceparent(paymentId));
      expect(stored?.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(stored?.traceId).not.toBe(CLIENT_TRACE);
      expect(stored?.traceId).not.toBe("0".repeat(32));
    }
  });

  it("keeps the trace through the dead-letter function and a redrive", async () => {
    const prefix = uniqueTopicPrefix();
    const topic = `${prefix}.paymentauthorized`;
    const { drain, dlqTopic } = drainWithDeadLetters(ctx, prefix);
    await createTopics(ctx.kafka, [topic, dlqTopic]);

    const paymentId = await pay({ traceparent: CLIENT_TRACEPARENT });
    const stored = await storedTraceparent(paymentId);
    // Spoil the stored event so the drain cannot send it: it goes to the dead-letter function.
    const original = await ctx.fx.pool.query<{ payload: unknown }>(
      "UPDATE outbox SET payload = '{\"unexpected\": true}' WHERE aggregate_id = $1 RETURNING payload",
      [paymentId],
    );
    expect(original.rowCount).toBe(1);
    expect(await drain.run()).toMatchObject({ deadLettered: 1 });

    const dead = messageFor(await readTopics(ctx.kafka, [dlqTopic]), paymentId);
    expect(parseTraceparent(dead.headers.traceparent)?.traceId).toBe(CLIENT_TRACE);
    // The DLQ message's body stays the contract's shape: the trace is a header only.
    expect(Object.keys(JSON.parse(dead.value)).sort()).toEqual([
      "aggregate_id",
      "aggregate_type",
      "error",
      "event_id",
      "event_type",
      "failed_at",
      "payload",
      "retry_count",
      "timestamp",
    ]);
    const recorded = await ctx.fx.pool.query<{ traceparent: string }>(
      "SELECT d.traceparent FROM dead_letters d JOIN outbox o ON o.id = d.event_id WHERE o.aggregate_id = $1",
      [paymentId],
    );
    expect(recorded.rows).toEqual([{ traceparent: stored }]);

    // The operator repairs the event and redrives it: it leaves in the same trace.
    const { rows } = await ctx.fx.pool.query<{ id: string }>(
      `UPDATE outbox SET payload = jsonb_build_object(
         'payment_id', p.id, 'payer_account_id', p.payer_account_id, 'payee_account_id', p.payee_account_id,
         'amount_cents', p.amount, 'currency', p.currency, 'description', p.description)
       FROM payments p WHERE p.id = outbox.aggregate_id AND outbox.aggregate_id = $1 RETURNING outbox.id`,
      [paymentId],
    );
    await redriveDeadLetter(ctx.fx.pool, rows[0]?.id as string, new Date());
    expect((await drain.run()).published).toBeGreaterThanOrEqual(1);
    const redriven = messageFor(await readTopics(ctx.kafka, [topic]), paymentId);
    expect(redriven.headers.traceparent).toBe(stored);
  });

  it("gives every message a trace, even for events stored without one or with a malformed one", async () => {
    const prefix = uniqueTopicPrefix();
    const topic = `${prefix}.paymentauthorized`;
    await createTopics(ctx.kafka, [topic]);
    const [first, second] = [newId(), newId()];
    await insertOutboxEvents(ctx.fx.pool, [{ aggregateId: first }, { aggregateId: second }]);
    await ctx.fx.pool.query("UPDATE outbox SET traceparent = 'garbage' WHERE aggregate_id = $1", [second]);
    const { drain } = drainWithDeadLetters(ctx, prefix);
    expect((await drain.run()).published).toBeGreaterThanOrEqual(2);
    const messages = await readTopics(ctx.kafka, [topic]);
    const traces = [first, second].map((id) =>
      parseTraceparent(messageFor(messages, id).headers.traceparent),
    );
    for (const trace of traces) expect(trace?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traces[0]?.traceId).not.toBe(traces[1]?.traceId);
  });
});

/** Runs the sample consumer until it handled a message `wanted` accepts; returns that one. */
async function consumeUntil(
  processor: InboxProcessor,
  groupId: string,
  topics: string[],
  wanted: (result: ProcessResult) => boolean,
): Promise<{ result: ProcessResult; message: InboundMessage }> {
  let consumer: Consumer | undefined;
  const seen = await new Promise<{ result: ProcessResult; message: InboundMessage }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the message did not arrive within 60 s")), 60_000);
    startInboxConsumer({
      kafka: ctx.kafka,
      groupId,
      topics,
      processor,
      fromBeginning: true,
      onResult: (result, message) => {
        if (!wanted(result)) return;
        clearTimeout(timer);
        resolve({ result, message });
      },
    }).then((c) => {
      consumer = c;
    }, reject);
  });
  await consumer?.disconnect();
  return seen;
}
