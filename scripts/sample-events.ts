/**
 * Writes the sample events in events/ (`npx tsx scripts/sample-events.ts && npx biome format --write events`), so each
 * gRPC-web body is a real frame of the generated protobuf messages. Also
 * builds api events for tests and for `serverless invoke local` with a token:
 * `npx tsx scripts/sample-events.ts --authorize <payer> <payee> --token "$(npm run -s token -- --sub alice)"`
 * prints an AuthorizePayment event for those accounts.
 */
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { create, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { DeadLetter } from "../lib/events/contract.ts";
import { HealthCheckRequestSchema } from "../lib/gen/grpc/health/v1/health_pb.ts";
import { AuthorizePaymentRequestSchema } from "../lib/gen/payment/v1/payment_pb.ts";

/** One gRPC-web data frame: flag 0, big-endian length, the message. */
export function grpcWebFrame(message: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

export interface ApiEventOptions {
  /** e.g. /payment.v1.PaymentService/AuthorizePayment */
  path: string;
  body: Uint8Array;
  token?: string;
}

/** An API Gateway HTTP API (payload 2.0) event carrying a binary gRPC-web request, as API Gateway sends it. */
export function apiEvent(options: ApiEventOptions): Record<string, unknown> {
  const headers: Record<string, string> = {
    "content-type": "application/grpc-web+proto",
    "x-grpc-web": "1",
    accept: "application/grpc-web+proto",
    host: "localhost",
    ...(options.token && { authorization: `Bearer ${options.token}` }),
  };
  return {
    version: "2.0",
    routeKey: "POST /{proxy+}",
    rawPath: options.path,
    rawQueryString: "",
    headers,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: "localhost",
      domainPrefix: "localhost",
      http: {
        method: "POST",
        path: options.path,
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: "sample-event",
      },
      requestId: "sample-request",
      routeKey: "POST /{proxy+}",
      stage: "$default",
      time: "29/Nov/2026:12:00:00 +0000",
      timeEpoch: 1_796_040_000_000,
    },
    pathParameters: { proxy: options.path.slice(1) },
    body: grpcWebFrame(options.body).toString("base64"),
    isBase64Encoded: true,
  };
}

function message<Desc extends DescMessage>(
  schema: Desc,
  init: Parameters<typeof create<Desc>>[1],
): Uint8Array {
  return toBinary(schema, create(schema, init) as MessageShape<Desc>);
}

export function healthCheckEvent(): Record<string, unknown> {
  return apiEvent({ path: "/grpc.health.v1.Health/Check", body: message(HealthCheckRequestSchema, {}) });
}

export function authorizePaymentEvent(options: {
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  idempotencyKey: string;
  token?: string;
}): Record<string, unknown> {
  return apiEvent({
    path: "/payment.v1.PaymentService/AuthorizePayment",
    body: message(AuthorizePaymentRequestSchema, {
      idempotencyKey: options.idempotencyKey,
      payerAccountId: options.payerAccountId,
      payeeAccountId: options.payeeAccountId,
      amountCents: options.amountCents,
      currency: "EUR",
      description: "coffee",
    }),
    ...(options.token && { token: options.token }),
  });
}

/** What EventBridge Scheduler / a schedule rule sends drainOutbox. */
export const SCHEDULE_EVENT = {
  version: "0",
  id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "000000000000",
  time: "2026-11-29T12:00:00Z",
  region: "us-east-1",
  resources: ["arn:aws:events:us-east-1:000000000000:rule/payment-ledger-local-drainOutbox"],
  detail: {},
};

/** What drainOutbox hands deadLetter for an event Kafka refused for good (schemas/dead_letter.json). */
export const DEAD_LETTER_EVENT: DeadLetter = {
  event_id: "01KB0000000000000000000001",
  aggregate_type: "Payment",
  aggregate_id: "01KB0000000000000000000002",
  event_type: "PaymentAuthorized",
  payload: {
    payment_id: "01KB0000000000000000000002",
    payer_account_id: "01KB00000000000000000000A1",
    payee_account_id: "01KB00000000000000000000B1",
    amount_cents: 1250,
    currency: "EUR",
    description: "coffee",
  },
  timestamp: "2026-11-29T11:59:00.000Z",
  retry_count: 5,
  failed_at: "2026-11-29T12:00:00.000Z",
  error:
    "MESSAGE_TOO_LARGE: The request included a message larger than the max message size (after 5 attempts)",
};

const SAMPLE_ACCOUNTS = { payer: "01KB00000000000000000000A1", payee: "01KB00000000000000000000B1" };

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { authorize: { type: "boolean", default: false }, token: { type: "string" } },
  });
  if (values.authorize) {
    const [payerAccountId, payeeAccountId] = positionals;
    if (!payerAccountId || !payeeAccountId) {
      console.error("usage: npx tsx scripts/sample-events.ts --authorize <payer> <payee> [--token <jwt>]");
      process.exit(2);
    }
    const event = authorizePaymentEvent({
      payerAccountId,
      payeeAccountId,
      amountCents: 1250n,
      idempotencyKey: `invoke-local-${Date.now()}`,
      ...(values.token && { token: values.token }),
    });
    console.log(JSON.stringify(event, null, 2));
  } else {
    const dir = new URL("../events/", import.meta.url);
    const write = (name: string, event: unknown) =>
      writeFile(new URL(name, dir), `${JSON.stringify(event, null, 2)}\n`);
    await write("api/health-check.json", healthCheckEvent());
    await write(
      "api/authorize-payment.json",
      authorizePaymentEvent({
        payerAccountId: SAMPLE_ACCOUNTS.payer,
        payeeAccountId: SAMPLE_ACCOUNTS.payee,
        amountCents: 1250n,
        idempotencyKey: "sample-coffee",
      }),
    );
    await write("drain-outbox/schedule.json", SCHEDULE_EVENT);
    await write("dead-letter/envelope.json", DEAD_LETTER_EVENT);
  }
}
