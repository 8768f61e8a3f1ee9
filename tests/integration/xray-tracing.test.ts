/**
 * X-Ray end to end, against a real UDP listener standing in for the X-Ray
 * daemon (AWS_XRAY_DAEMON_ADDRESS), with the SDKs in their Lambda mode as on
 * AWS: the api's subsegment, and the drain's publish segments in each
 * payment's trace, under the span stored with its event.
 */
import { randomBytes } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiHandler } from "../../lib/api/create-api-handler.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { AuthorizePaymentResponseSchema } from "../../lib/gen/payment/v1/payment_pb.ts";
import { newId } from "../../lib/ids.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import { lambdaTracingFromEnv, W3C_TRACE_ANNOTATION } from "../../lib/observability/lambda-tracing.ts";
import { formatTraceparent } from "../../lib/observability/trace-context.ts";
import { traceContextFromXRay, xrayTraceId } from "../../lib/observability/xray-ids.ts";
import {
  PUBLISH_SEGMENT,
  publishTracerFromEnv,
  SEND_SUBSEGMENT,
} from "../../lib/observability/xray-publish-tracer.ts";
import type { PublishedEvent, PublishTiming, PublishTracer } from "../../lib/outbox/publish-tracer.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";
import {
  apiFixture,
  authorizePaymentEvent,
  invoke,
  TEST_AUTH,
  TEST_ORIGIN,
  testApiConfig,
  testLogger,
} from "../support/api.ts";
import { createTopics, readTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { drainWithDeadLetters, insertOutboxEvents, outboxTestContext } from "../support/outbox.ts";
import { startXRayDaemon, type XRayDaemon, type XRayDocument } from "../support/xray-daemon.ts";

const ctx = outboxTestContext();
const TRACING = { XRAY_TRACING_ENABLED: "true", POWERTOOLS_SERVICE_NAME: "payment-ledger" };
const HANDLER = "functions/api/handler.handler";

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const traceparent = (flags = "01") => `00-${hex(16)}-${hex(8)}-${flags}`;
const w3c = (header: string) => {
  const [, traceId = "", spanId = ""] = header.split("-");
  return { traceId, spanId };
};

let daemon: XRayDaemon;
// The SDKs read these when they load (here, lazily, on first use), as in a Lambda sandbox.
const LAMBDA_ENV = {
  LAMBDA_TASK_ROOT: process.cwd(),
  AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
  AWS_LAMBDA_FUNCTION_NAME: "payment-ledger-test-api",
  _HANDLER: HANDLER,
};
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  daemon = await startXRayDaemon();
  const env = { ...LAMBDA_ENV, AWS_XRAY_DAEMON_ADDRESS: daemon.address, _X_AMZN_TRACE_ID: "" };
  for (const [name, value] of Object.entries(env)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await daemon?.close();
});

function delivered(header: string | undefined, eventType: string = "PaymentAuthorized"): PublishedEvent {
  return { event: { id: newId(), eventType, traceparent: header }, message: { topic: `t.${eventType}` } };
}

const byTrace = (traceId: string | undefined) => (d: XRayDocument) => d.trace_id === traceId;

async function tracerOn(env: Record<string, string>): Promise<PublishTracer> {
  const tracer = await publishTracerFromEnv(env);
  if (!tracer) throw new Error("tracing is on, yet no tracer was loaded");
  return tracer;
}

describe("tracing off", () => {
  it("loads no tracer and records nothing", async () => {
    expect(await lambdaTracingFromEnv({})).toBeUndefined();
    expect(await publishTracerFromEnv({})).toBeUndefined();
    expect(await publishTracerFromEnv({ ...TRACING, XRAY_PUBLISH_SEGMENTS_PER_BATCH: "0" })).toBeUndefined();
  });
});

describe("api (Powertools Tracer)", () => {
  it("records each call as a subsegment of the function's segment; a caller's traceparent is annotated", async () => {
    const tracing = await lambdaTracingFromEnv(TRACING);
    if (!tracing) throw new Error("tracing should be on");
    const api = await apiFixture({ tracing });
    try {
      const call = async (headers: Record<string, string>, method = "POST") => {
        const root = `1-${hex(4)}-${hex(12)}`;
        const parent = hex(8);
        process.env._X_AMZN_TRACE_ID = `Root=${root};Parent=${parent};Sampled=1`;
        const event = grpcWebEvent("/grpc.health.v1.Health/Check", {
          method,
          headers,
          body: frame(new Uint8Array(0)),
        });
        const result = await invoke(api.handler, event);
        const [segment] = (await daemon.until((docs) => docs.some(byTrace(root)))).filter(byTrace(root));
        return { result, segment, parent };
      };

      const client = traceparent();
      const traced = await call({ traceparent: client });
      expect(readGrpcWeb(traced.result).code).toBe(0);
      expect(traced.segment).toMatchObject({
        name: `## ${HANDLER}`,
        type: "subsegment",
        parent_id: traced.parent,
        annotations: { [W3C_TRACE_ANNOTATION]: w3c(client).traceId, Service: "payment-ledger" },
      });
      expect(traced.segment?.in_progress).toBeUndefined();
      // The response (gRPC-web frames, payment details on other methods) is never copied into X-Ray.
      expect(traced.segment?.metadata).toBeUndefined();

      // Without a caller's traceparent, the payment's trace is this invocation's (xray-ids.ts).
      const plain = await call({});
      expect(plain.segment?.annotations?.[W3C_TRACE_ANNOTATION]).toBeUndefined();

      // A preflight answered early by the CORS middleware still closes the subsegment.
      const preflight = await call({ origin: TEST_ORIGIN, traceparent: client }, "OPTIONS");
      expect(preflight.result.statusCode).toBe(204);
      expect(preflight.segment).toMatchObject({ name: `## ${HANDLER}`, parent_id: preflight.parent });
      expect(preflight.segment?.in_progress).toBeUndefined();
    } finally {
      await api.close();
    }
  });
});

describe("drain (aws-xray-sdk-core segments)", () => {
  const timing: PublishTiming = {
    startedAt: 1_760_000_000_000,
    sendStartedAt: 1_760_000_000_005,
    sendEndedAt: 1_760_000_000_025,
    endedAt: 1_760_000_000_031,
  };
  /** A sampled event sent after the others: once it arrived, everything sent before it has too. */
  async function flushWith(tracer: PublishTracer): Promise<XRayDocument[]> {
    const from = daemon.documents.length;
    const marker = traceparent();
    tracer.published([delivered(marker)], timing);
    const trace = xrayTraceId(w3c(marker).traceId);
    const documents = await daemon.until((docs) => docs.slice(from).some(byTrace(trace)));
    return documents.slice(from).filter((d) => !byTrace(trace)(d));
  }

  it("puts outbox.publish and its kafka.send into each sampled event's trace, under the stored span", async () => {
    const tracer = await tracerOn({ ...TRACING, XRAY_PUBLISH_SEGMENTS_PER_BATCH: "5" });
    const authorized = delivered(traceparent());
    const declined = delivered(traceparent("03"), "PaymentDeclined");
    tracer.published(
      [authorized, delivered(traceparent("00")), delivered(undefined), delivered("garbage"), declined],
      timing,
    );
    const afterBatch = await flushWith(tracer);
    // Only the two sampled events were recorded: nothing for unsampled, missing or broken traceparents.
    expect(afterBatch).toHaveLength(2);

    for (const item of [authorized, declined]) {
      const { traceId, spanId } = w3c(item.event.traceparent ?? "");
      const segment = afterBatch.find(byTrace(`1-${traceId.slice(0, 8)}-${traceId.slice(8)}`));
      expect(segment).toMatchObject({
        name: PUBLISH_SEGMENT,
        parent_id: spanId,
        start_time: timing.startedAt / 1000,
        end_time: timing.endedAt / 1000,
        annotations: { event_type: item.event.eventType, topic: item.message.topic, event_id: item.event.id },
      });
      expect(segment?.id).toMatch(/^[0-9a-f]{16}$/);
      expect(segment?.in_progress).toBeUndefined();
      expect(segment?.subsegments).toEqual([
        expect.objectContaining({
          name: SEND_SUBSEGMENT,
          namespace: "remote",
          start_time: timing.sendStartedAt / 1000,
          end_time: timing.sendEndedAt / 1000,
          annotations: { event_type: item.event.eventType, topic: item.message.topic },
        }),
      ]);
    }
  });

  it("sends at most XRAY_PUBLISH_SEGMENTS_PER_BATCH segments per batch, for its first sampled events", async () => {
    const tracer = await tracerOn({ ...TRACING, XRAY_PUBLISH_SEGMENTS_PER_BATCH: "3" });
    const batch = [
      delivered(traceparent("00")),
      ...Array.from({ length: 10 }, () => delivered(traceparent())),
    ];
    tracer.published(batch, timing);
    const sent = await flushWith(tracer);
    expect(sent.map((d) => d.annotations?.event_id)).toEqual(batch.slice(1, 4).map((item) => item.event.id));
  });

  it("links the drain to the api: a traceparent started from the invocation's X-Ray trace parents the publish on the api's segment", async () => {
    const tracer = await tracerOn(TRACING);
    const root = `1-${hex(4)}-${hex(12)}`;
    const apiSegment = hex(8);
    const context = traceContextFromXRay(`Root=${root};Parent=${apiSegment};Sampled=1`);
    if (!context) throw new Error("no context");
    tracer.published([delivered(formatTraceparent(context))], timing);
    const [segment] = (await daemon.until((docs) => docs.some(byTrace(root)))).filter(byTrace(root));
    expect(segment).toMatchObject({ name: PUBLISH_SEGMENT, parent_id: apiSegment });
  });
});

async function storedTraceparent(paymentId: string): Promise<string | undefined> {
  const { rows } = await ctx.fx.pool.query<{ traceparent: string | null }>(
    "SELECT traceparent FROM outbox WHERE aggregate_id = $1",
    [paymentId],
  );
  return rows[0]?.traceparent ?? undefined;
}

describe("one payment, one X-Ray trace: api, drain and Kafka send (real Postgres and broker)", () => {
  it("puts the drain's publish under the api's segment, in the invocation's trace or the caller's", async () => {
    const prefix = uniqueTopicPrefix();
    const topic = topicFor(prefix, "PaymentAuthorized");
    await createTopics(ctx.kafka, [topic, topicFor(prefix, "PaymentDeclined"), `${prefix}.dlq`]);
    const payer = await ctx.fx.openFundedAccount(1_000n, "EUR", "alice");
    const payee = await ctx.fx.openFundedAccount(0n, "EUR", "bob");

    const tracing = await lambdaTracingFromEnv(TRACING);
    if (!tracing) throw new Error("tracing should be on");
    const handler = createApiHandler({
      service: ctx.fx.service,
      verifier: createTokenVerifier(TEST_AUTH),
      healthProbe: async () => true,
      config: testApiConfig(),
      logger: testLogger(),
      tracing,
    });
    /** One AuthorizePayment through the api, in a Lambda invocation X-Ray traces (or not). */
    const pay = async (sampled: "1" | "0", headers: Record<string, string> = {}) => {
      const invocation = { root: `1-${hex(4)}-${hex(12)}`, parent: hex(8) };
      process.env._X_AMZN_TRACE_ID = `Root=${invocation.root};Parent=${invocation.parent};Sampled=${sampled}`;
      const token = await signLocalToken(TEST_AUTH, { subject: "alice" });
      const result = await handler(
        authorizePaymentEvent(
          token,
          {
            idempotencyKey: `xray-${newId()}`,
            payerAccountId: payer.accountId,
            payeeAccountId: payee.accountId,
            amountCents: 1n,
            currency: "EUR",
            description: "traced",
          },
          headers,
        ),
        lambdaContext(),
      );
      const answer = readGrpcWeb(result);
      expect(answer.code).toBe(0);
      const paymentId = fromBinary(
        AuthorizePaymentResponseSchema,
        answer.messages[0] ?? new Uint8Array(),
      ).paymentId;
      return { ...invocation, paymentId, stored: await storedTraceparent(paymentId) };
    };

    const own = await pay("1");
    const client = traceparent();
    const continued = await pay("1", { traceparent: client });
    const unsampled = await pay("0");
    // No traceparent: the payment's trace is the invocation's, its span the function's segment.
    expect(own.stored).toBe(`00-${own.root.replaceAll(/^1-|-/g, "")}-${own.parent}-01`);
    expect(w3c(continued.stored ?? "").traceId).toBe(w3c(client).traceId);
    expect(unsampled.stored).toMatch(/-00$/);

    const { drain } = drainWithDeadLetters(ctx, prefix, {
      publishTracer: await publishTracerFromEnv(TRACING),
    });
    // The three payments, and whatever else is pending (the accounts' funding).
    const pending = await ctx.fx.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL",
    );
    expect(pending.rows[0]?.n).toBeGreaterThanOrEqual(3);
    expect(await drain.run()).toMatchObject({ published: pending.rows[0]?.n, stoppedBy: "drained" });

    const continuedTrace = xrayTraceId(w3c(client).traceId);
    const documents = await daemon.until((docs) =>
      [own.root, continued.root, continuedTrace].every((trace) => docs.some(byTrace(trace))),
    );
    // The invocation's trace: the api's subsegment and the publish, both under the function's segment.
    const ownTrace = documents.filter(byTrace(own.root));
    expect(ownTrace.map((d) => [d.name, d.parent_id]).sort()).toEqual(
      [
        [`## ${HANDLER}`, own.parent],
        [PUBLISH_SEGMENT, own.parent],
      ].sort(),
    );
    const publish = ownTrace.find((d) => d.name === PUBLISH_SEGMENT);
    expect(publish?.annotations).toMatchObject({ event_type: "PaymentAuthorized", topic });
    expect(publish?.subsegments?.map((d) => d.name)).toEqual([SEND_SUBSEGMENT]);

    // The caller's trace: the publish under the api's span; the api's subsegment stays in the
    // invocation's trace, annotated with the caller's trace id.
    expect(documents.filter(byTrace(continuedTrace))).toEqual([
      expect.objectContaining({ name: PUBLISH_SEGMENT, parent_id: w3c(continued.stored ?? "").spanId }),
    ]);
    expect(documents.find(byTrace(continued.root))?.annotations?.[W3C_TRACE_ANNOTATION]).toBe(
      w3c(client).traceId,
    );
    // An invocation X-Ray did not sample records nothing of ours.
    expect(documents.filter(byTrace(unsampled.root))).toEqual([]);

    // The Kafka message carries the same trace.
    const messages = await readTopics(ctx.kafka, [topic]);
    expect(messages.find((m) => m.key === own.paymentId)?.headers.traceparent).toBe(own.stored);
  });

  it("delivers as before when the tracer throws", async () => {
    const prefix = uniqueTopicPrefix();
    const topic = topicFor(prefix, "PaymentAuthorized");
    await createTopics(ctx.kafka, [topic, `${prefix}.dlq`]);
    const ids = await insertOutboxEvents(ctx.fx.pool, [{ aggregateId: newId() }, { aggregateId: newId() }]);
    const { drain } = drainWithDeadLetters(ctx, prefix, {
      publishTracer: {
        published() {
          throw new Error("daemon exploded");
        },
      },
    });
    expect(await drain.run()).toMatchObject({ published: 2, stoppedBy: "drained" });
    const messages = await readTopics(ctx.kafka, [topic]);
    expect(messages.map((m) => m.headers.event_id).sort()).toEqual([...ids].sort());
  });
});
