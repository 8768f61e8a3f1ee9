/**
 * The api Lambda's gRPC-web gateway: what it costs per call on its own, and
 * AuthorizePayment end to end through the handler with Postgres.
 *
 *   npm run bench:gateway -- [--seconds 8] [--workers 4] [--layers]
 *
 * (a) gateway alone: API Gateway event in, result out, through middy, CORS,
 *     logging (silenced), JWT verification, Connect-ES framing, protobuf
 *     decode/encode, the ownership check and PaymentService, with the ledger
 *     store in memory. One call at a time, as one Lambda container serves;
 *     the clock runs only while the handler does (building events and
 *     reading results is the client's work).
 *     Beside it, interleaved block by block, Connect-ES's own unary handler
 *     with a trivial method: the floor any gateway built on it pays. The
 *     target is the ratio of the two at p50. A second floor, in blocks of its
 *     own, is Connect-ES serving AuthorizePayment itself with the gateway
 *     case's request (same bytes, same headers) and a constant answer of the
 *     real one's shape: what Connect-ES alone does for this very call, so the
 *     ratio against it is the gateway's own work and the domain's, not the
 *     difference between an empty message and a payment. Both ratios are
 *     printed. One HMAC-SHA256 is printed as a yardstick of the machine's
 *     speed.
 *     With --layers, the layers between the same-request floor and the whole
 *     handler are timed too, in blocks of their own in the same rotation, and
 *     printed as a table of their own (gateway-layers.ts).
 * (b) end to end: the same handler on a PgLedgerStore, one caller, then
 *     --workers callers (containers) sharing the server.
 *
 * Uses DATABASE_URL when set, else starts a local Postgres with durable
 * settings (fsync on).
 */

import { createHmac } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { createConnectRouter, createContextValues } from "@connectrpc/connect";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { type ApiDependencies, type ApiHandler, createApiHandler } from "../lib/api/create-api-handler.ts";
import { createTokenVerifier } from "../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../lib/auth/local-token.ts";
import { apiConfig, authConfig, databaseConfig } from "../lib/config.ts";
import { pingDatabase } from "../lib/db/ping.ts";
import { createPool } from "../lib/db/pool.ts";
import { Health, HealthCheckResponse_ServingStatus } from "../lib/gen/grpc/health/v1/health_pb.ts";
import {
  AuthorizePaymentRequestSchema,
  PaymentService as PaymentServiceProto,
  PaymentStatus,
} from "../lib/gen/payment/v1/payment_pb.ts";
import { newId } from "../lib/ids.ts";
import { PgLedgerStore } from "../lib/ledger/pg-ledger-store.ts";
import { createLogger } from "../lib/logging.ts";
import { openTreasury } from "../lib/payments/funding.ts";
import type { LedgerStore } from "../lib/payments/ledger-store.ts";
import { PaymentService } from "../lib/payments/service.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../tools/local-services/lambda-http.ts";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import {
  connectRequestOf,
  type Layer,
  middleLayers,
  printLayers,
  Timed,
  timeHandler,
} from "./gateway-layers.ts";
import { InMemoryLedgerStore } from "./in-memory-ledger-store.ts";
import { argValue, formatRate, formatUs, Latencies, machineLine, printTable, runFor } from "./support.ts";

const seconds = argValue("seconds", 8);
/** The gateway's own work on top of Connect-ES's, as a multiple of Connect-ES alone. */
const FLOOR_RATIO_TARGET = 1.5;
const workers = argValue("workers", 4);
const layers = process.argv.includes("--layers");
const auth = authConfig({ JWT_SECRET: "bench-secret-bench-secret-bench-secret-00" });
const silent = createLogger({ function: "api", logLevel: "SILENT", env: {} });

async function setUp(store: LedgerStore, probe: () => Promise<boolean>) {
  const service = new PaymentService(store, { idempotencyKeyTtlSeconds: 86_400 });
  const deps: ApiDependencies = {
    service,
    verifier: createTokenVerifier(auth),
    healthProbe: probe,
    config: apiConfig({}),
    logger: silent,
  };
  const handler = createApiHandler(deps);
  const treasury = await openTreasury(service, "EUR");
  const payers = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      service.createAccount({ owner: "bench", currency: "EUR", system: false }).then((a) => ({ a, i })),
    ),
  );
  const payee = await service.createAccount({ owner: "merchant", currency: "EUR", system: false });
  const operatorToken = await signLocalToken(auth, { subject: "ops", operator: true });
  // Fund each payer through the handler itself.
  for (const { a } of payers) {
    await call(handler, authorizeEvent(operatorToken, treasury.accountId, a.accountId, 1_000_000_000n));
  }
  return { deps, handler, payers: payers.map(({ a }) => a.accountId), payee: payee.accountId };
}

let key = 0;
function authorizeEvent(token: string, payer: string, payee: string, amount = 1n): APIGatewayProxyEventV2 {
  const body = toBinary(
    AuthorizePaymentRequestSchema,
    create(AuthorizePaymentRequestSchema, {
      idempotencyKey: `bench-${process.pid}-${key++}`,
      payerAccountId: payer,
      payeeAccountId: payee,
      amountCents: amount,
      currency: "EUR",
      description: "bench",
    }),
  );
  return grpcWebEvent("/payment.v1.PaymentService/AuthorizePayment", {
    body: frame(body),
    headers: { authorization: `Bearer ${token}`, origin: "https://app.example.com", "x-grpc-web": "1" },
  });
}

/** Calls `fn` `count` times, one at a time, each timed. */
async function timeCalls(fn: () => Promise<void>, count: number, into: Timed): Promise<void> {
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    into.latencies.record(t0);
    into.insideNs += process.hrtime.bigint() - t0;
  }
}

async function call(handler: ApiHandler, event: APIGatewayProxyEventV2): Promise<void> {
  const outcome = readGrpcWeb(await handler(event, lambdaContext()));
  if (outcome.code !== 0) throw new Error(`grpc-status ${outcome.code}: ${outcome.message}`);
}

const rows: string[][] = [];
let yardstick = "";
let gatewayP50Ns = Number.NaN;
let floorP50Ns = Number.NaN;
let sameFloorP50Ns = Number.NaN;
let printLayersAtEnd: (() => void) | undefined;
const row = (name: string, callers: number, perSecond: number, latencies: Latencies, errors: number) =>
  rows.push([
    name,
    String(callers),
    formatRate(perSecond),
    formatUs(latencies.quantile(0.5)),
    formatUs(latencies.quantile(0.99)),
    String(errors),
  ]);

// (a) gateway alone, and beside it its floor: Connect-ES's unary handler
// alone, trivial method, no gateway around it. Blocks of each take turns for
// the whole run, so a machine whose speed drifts (a shared one) weighs on both
// alike and their ratio holds.
{
  const { deps, handler, payers, payee } = await setUp(new InMemoryLedgerStore(), async () => true);
  const token = await signLocalToken(auth, { subject: "bench" });
  const payer = payers[0] as string;
  const gatewayEvent = () => authorizeEvent(token, payer, payee);

  const router = createConnectRouter({ grpc: false, connect: false });
  router.service(Health, { check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }) });
  const check = router.handlers.find((h) => h.requestPath === "/grpc.health.v1.Health/Check");
  if (!check) throw new Error("no Health/Check handler");
  const body = frame(new Uint8Array(0));
  const once = async function* () {
    yield body;
  };
  const connectOnly = async () => {
    const response = await check({
      httpVersion: "1.1",
      url: "https://bench/grpc.health.v1.Health/Check",
      method: "POST",
      header: new Headers({ "content-type": "application/grpc-web+proto" }),
      body: once(),
      signal: new AbortController().signal,
      contextValues: createContextValues(),
    });
    for await (const _ of response.body ?? []) {
      // drain
    }
  };

  // The same-request floor: Connect-ES alone serving this very method, fed
  // what the gateway hands it (the event's headers and decoded body).
  const sameRouter = createConnectRouter({ grpc: false, connect: false });
  const answer = {
    paymentId: newId(),
    status: PaymentStatus.AUTHORIZED,
    processedAt: new Date().toISOString(),
  };
  sameRouter.service(PaymentServiceProto, { authorizePayment: () => answer });
  const authorize = sameRouter.handlers.find(
    (h) => h.requestPath === "/payment.v1.PaymentService/AuthorizePayment",
  );
  if (!authorize) throw new Error("no AuthorizePayment handler");
  const sameRequest = () => connectRequestOf(gatewayEvent());
  const connectSameRequest = async (request: ReturnType<typeof sameRequest>) => {
    const response = await authorize({
      httpVersion: "1.1",
      url: "https://bench/payment.v1.PaymentService/AuthorizePayment",
      method: "POST",
      header: new Headers(request.headers),
      body: request.chunk(),
      signal: new AbortController().signal,
      contextValues: createContextValues(),
    });
    for await (const _ of response.body ?? []) {
      // drain
    }
  };
  /** Like timeCalls, with each request built before the clock runs, as timeHandler does. */
  const timeSameRequest = async (count: number, into: Timed) => {
    const requests = Array.from({ length: count }, sameRequest);
    for (const request of requests) {
      const t0 = process.hrtime.bigint();
      await connectSameRequest(request);
      into.latencies.record(t0);
      into.insideNs += process.hrtime.bigint() - t0;
    }
  };

  const layered: { layer: Layer; timed: Timed }[] = layers
    ? middleLayers({ deps, logger: silent, makeEvent: gatewayEvent, answer }).map((layer) => ({
        layer,
        timed: new Timed(),
      }))
    : [];

  // Warm-up: JIT.
  for (let i = 0; i < 4; i++) {
    await timeHandler(handler, gatewayEvent, 1000, new Timed());
    await timeCalls(connectOnly, 1000, new Timed());
    await timeSameRequest(1000, new Timed());
    for (const { layer } of layered) await layer.time(1000, new Timed());
  }
  console.error(`(a) gateway alone and the Connect-ES floor, interleaved, ${seconds} s…`);
  const gateway = new Timed();
  const floor = new Timed();
  const sameFloor = new Timed();
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    await timeHandler(handler, gatewayEvent, 500, gateway);
    await timeCalls(connectOnly, 500, floor);
    await timeSameRequest(500, sameFloor);
    for (const { layer, timed } of layered) await layer.time(500, timed);
  }
  row("(a) gateway alone, store in memory", 1, gateway.perSecond, gateway.latencies, gateway.errors);
  row("(a) Connect-ES unary handler alone (floor)", 1, floor.perSecond, floor.latencies, floor.errors);
  row(
    "(a) Connect-ES alone, AuthorizePayment, same request",
    1,
    sameFloor.perSecond,
    sameFloor.latencies,
    sameFloor.errors,
  );
  gatewayP50Ns = gateway.latencies.quantile(0.5);
  floorP50Ns = floor.latencies.quantile(0.5);
  sameFloorP50Ns = sameFloor.latencies.quantile(0.5);
  if (layers) {
    printLayersAtEnd = () =>
      printLayers(
        [
          { name: "1 Connect-ES alone, same request", timed: sameFloor },
          ...layered.map(({ layer, timed }) => ({ name: layer.name, timed })),
          { name: "5 + middy and middlewares (= gateway alone)", timed: gateway },
        ],
        floor,
      );
  }

  const hmac = new Latencies();
  for (let i = 0; i < 20_000; i++) {
    const t0 = process.hrtime.bigint();
    createHmac("sha256", auth.secret).update(token).digest();
    hmac.record(t0);
  }
  yardstick = `one HMAC-SHA256 of the bench token takes ${formatUs(hmac.quantile(0.5))} at p50 here`;
}

// (b) end to end with Postgres.
const server = await providePostgres({ durable: true, log: (line) => console.error(line) });
const db = await freshDatabase(server.adminUrl, "benchgw");
const pool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: workers });
try {
  const { handler, payers, payee } = await setUp(new PgLedgerStore(pool), () => pingDatabase(pool, 1000));
  const token = await signLocalToken(auth, { subject: "bench" });
  const task = (worker: number) => call(handler, authorizeEvent(token, payers[worker] as string, payee));
  await runFor(workers, 2_000, task);
  console.error(`(b) end to end, 1 caller, ${seconds} s…`);
  const one = await runFor(1, seconds * 1000, task);
  row("(b) AuthorizePayment end to end (Postgres)", 1, one.perSecond, one.latencies, one.errors);
  console.error(`(b) end to end, ${workers} callers, ${seconds} s…`);
  const many = await runFor(workers, seconds * 1000, task);
  row("(b) AuthorizePayment end to end (Postgres)", workers, many.perSecond, many.latencies, many.errors);
  const version = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]
    ?.v;
  const fsync = (await pool.query<{ v: string }>("SELECT current_setting('fsync') AS v")).rows[0]?.v;

  printTable(["case", "callers", "calls/s", "p50", "p99", "errors"], rows);
  console.log(machineLine([`Postgres ${version} (${server.source}, fsync=${fsync})`]));
  console.log(`yardstick: ${yardstick}`);
  const ratio = gatewayP50Ns / floorP50Ns;
  console.log(
    `gateway alone / Connect-ES floor at p50: ${ratio.toFixed(2)}x against a target of ${FLOOR_RATIO_TARGET}x: ${ratio <= FLOOR_RATIO_TARGET ? "met" : "MISSED"}`,
  );
  console.log(
    `gateway alone / Connect-ES serving the same request at p50: ${(gatewayP50Ns / sameFloorP50Ns).toFixed(2)}x`,
  );
  printLayersAtEnd?.();
} finally {
  await pool.end();
  await db.drop();
  await server.stop();
}
