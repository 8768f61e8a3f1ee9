/**
 * The gateway bench's timing, and its opt-in `--layers` mode: the api's
 * layers stacked up one at a time on top of Connect-ES serving the same
 * AuthorizePayment request, each built from the product's own modules, so
 * the gap between the floor and the whole handler can be read layer by layer.
 *
 *   1. Connect-ES alone, same request, constant answer (gateway.ts' second floor)
 *   2. + the gateway's Connect-ES configuration: the error and deadline
 *        interceptors and the auth gate (token from the request's header,
 *        verified once and then cached), same constant answer
 *   3. + the gateway function (createApiGateway): the request's Headers from
 *        the event, content type, routing, body limit and framing check, the
 *        call's deadline value, the real PaymentService implementation (access
 *        policy, domain, in-memory store), the answer's status read back
 *   4. + the Lambda adapter (createApiLambda): the deadline timer and its
 *        AbortController, the call's trace context, the access-log hook, the
 *        result's headers and base64 body
 *   5. + middy and its middlewares: the whole api handler (gateway.ts' case)
 *
 * Each layer is called as the row above is: requests built before the clock,
 * results checked after it.
 */

import type { Logger } from "@aws-lambda-powertools/logger";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createContextValues } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { authGate } from "../lib/api/auth-gate.ts";
import {
  type ApiDependencies,
  type ApiHandler,
  createApiGateway,
  createApiLambda,
} from "../lib/api/create-api-handler.ts";
import { connectErrorOf } from "../lib/api/error-mapping.ts";
import {
  type AuthorizePaymentResponseSchema,
  PaymentService as PaymentServiceProto,
} from "../lib/gen/payment/v1/payment_pb.ts";
import { createGrpcWebRoutes, type RpcResponse, rpcRequestFromEvent } from "../lib/rpc/index.ts";
import { readGrpcWeb } from "../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../tools/local-services/lambda-http.ts";
import { formatUs, Latencies, printTable } from "./support.ts";

const AUTHORIZE_PATH = "/payment.v1.PaymentService/AuthorizePayment";

/** What Connect-ES alone is given for an API Gateway event: its headers, and its body decoded in one chunk. */
export function connectRequestOf(event: APIGatewayProxyEventV2): {
  headers: Record<string, string>;
  chunk: () => AsyncGenerator<Buffer>;
} {
  const bytes = Buffer.from(event.body ?? "", "base64");
  const chunk = async function* () {
    yield bytes;
  };
  return { headers: event.headers as Record<string, string>, chunk };
}

/** Calls and the time spent inside what was timed, kept across blocks. */
export class Timed {
  readonly latencies = new Latencies();
  insideNs = 0n;
  errors = 0;

  get perSecond(): number {
    return this.latencies.count / (Number(this.insideNs) / 1e9);
  }
}

/**
 * Calls `prepare()`'s requests `count` times, one at a time, as one Lambda
 * container is called; the clock sees `call` only. `ok` reads each outcome
 * after the last call (the client's work).
 */
async function timeEach<R, O>(
  count: number,
  into: Timed,
  prepare: () => R,
  call: (request: R) => Promise<O>,
  ok: (outcome: O) => boolean,
): Promise<void> {
  const requests = Array.from({ length: count }, prepare);
  const outcomes: O[] = [];
  for (const request of requests) {
    const t0 = process.hrtime.bigint();
    outcomes.push(await call(request));
    into.latencies.record(t0);
    into.insideNs += process.hrtime.bigint() - t0;
  }
  for (const outcome of outcomes) if (!ok(outcome)) into.errors += 1;
}

/** The handler called with fresh events and Lambda contexts (built before the clock). */
export function timeHandler(
  handler: ApiHandler,
  makeEvent: () => APIGatewayProxyEventV2,
  count: number,
  into: Timed,
): Promise<void> {
  return timeEach(
    count,
    into,
    () => ({ event: makeEvent(), context: lambdaContext() }),
    ({ event, context }) => handler(event, context),
    (result: APIGatewayProxyStructuredResultV2) => readGrpcWeb(result).code === 0,
  );
}

export interface Layer {
  name: string;
  time(count: number, into: Timed): Promise<void>;
}

export interface LayerInputs {
  /** The gateway case's own dependencies (service, verifier, config). */
  deps: ApiDependencies;
  logger: Logger;
  /** The gateway case's events: same bytes, same headers. */
  makeEvent: () => APIGatewayProxyEventV2;
  /** The constant answer of the same-request floor. */
  answer: MessageInitShape<typeof AuthorizePaymentResponseSchema>;
}

/** Layers 2 to 4; 1 and 5 are gateway.ts' own cases. */
export function middleLayers({ deps, logger, makeEvent, answer }: LayerInputs): Layer[] {
  const routes = createGrpcWebRoutes(
    {
      maxRequestBytes: deps.config.maxRequestBytes,
      mapError: connectErrorOf,
      onUnexpectedError: (error) => logger.error("unexpected error", { error: String(error) }),
    },
    (services) =>
      services.add(
        PaymentServiceProto,
        { authorizePayment: () => answer },
        { requestGate: authGate(deps.verifier) },
      ),
  );
  const authorize = routes.get(AUTHORIZE_PATH) as UniversalHandler;
  const gateway = createApiGateway(deps, logger);
  const lambda = createApiLambda(deps, logger);
  // Layer 1's request: the event's headers and decoded body, one chunk.
  const connectRequest = () => connectRequestOf(makeEvent());
  return [
    {
      name: "2 + interceptors, auth gate, deadline",
      time: (count, into) =>
        timeEach(
          count,
          into,
          connectRequest,
          async (request) => {
            const response = await authorize({
              httpVersion: "1.1",
              url: `https://bench${AUTHORIZE_PATH}`,
              method: "POST",
              header: new Headers(request.headers),
              body: request.chunk(),
              signal: new AbortController().signal,
              contextValues: createContextValues(),
            });
            const chunks: Uint8Array[] = [];
            for await (const chunk of response.body ?? []) chunks.push(chunk);
            return { status: response.status, header: response.header, chunks };
          },
          ({ status, header, chunks }) =>
            readGrpcWeb({
              statusCode: status,
              headers: Object.fromEntries(header ?? []),
              body: Buffer.concat(chunks).toString("base64"),
              isBase64Encoded: true,
            }).code === 0,
        ),
    },
    {
      name: "3 + gateway function (routing, Headers, domain)",
      time: (count, into) =>
        timeEach(
          count,
          into,
          makeEvent,
          (event) => gateway(rpcRequestFromEvent(event, new AbortController().signal)),
          (response: RpcResponse) => response.status === 200 && response.grpc?.code === 0,
        ),
    },
    {
      name: "4 + Lambda adapter (lambdaHandler)",
      time: (count, into) => timeHandler(lambda, makeEvent, count, into),
    },
  ];
}

/** Each layer's p50, and as a multiple of layer 1 and of the Health/Check floor. */
export function printLayers(rows: { name: string; timed: Timed }[], healthFloor: Timed): void {
  const first = rows[0]?.timed.latencies.quantile(0.5) ?? Number.NaN;
  const health = healthFloor.latencies.quantile(0.5);
  printTable(
    ["layer", "calls", "p50", "x layer 1", "x Health/Check floor", "errors"],
    rows.map(({ name, timed }) => {
      const p50 = timed.latencies.quantile(0.5);
      return [
        name,
        String(timed.latencies.count),
        formatUs(p50),
        `${(p50 / first).toFixed(2)}x`,
        `${(p50 / health).toFixed(2)}x`,
        String(timed.errors),
      ];
    }),
  );
}
