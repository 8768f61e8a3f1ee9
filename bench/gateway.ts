/**
 * The api Lambda's gRPC-web gateway: what it costs per call on its own, and
 * AuthorizePayment end to end through the handler with Postgres.
 *
 *   npm run bench:gateway -- [--seconds 8] [--workers 4]
 *
 * (a) gateway alone: API Gateway event in, result out, through middy, CORS,
 *     logging (silenced), JWT verification, Connect-ES framing, protobuf
 *     decode/encode, the ownership check and PaymentService, with the ledger
 *     store in memory. One call at a time, as one Lambda container serves;
 *     the clock runs only while the handler does (building events and
 *     reading results is the client's work).
 *     Beside it, Connect-ES's own unary handler with a trivial method, the
 *     floor any gateway built on it pays, and one HMAC-SHA256 as a yardstick
 *     of the machine's speed.
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
import { type ApiHandler, createApiHandler } from "../lib/api/create-api-handler.ts";
import { createTokenVerifier } from "../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../lib/auth/local-token.ts";
import { apiConfig, authConfig, databaseConfig } from "../lib/config.ts";
import { pingDatabase } from "../lib/db/ping.ts";
import { createPool } from "../lib/db/pool.ts";
import { Health, HealthCheckResponse_ServingStatus } from "../lib/gen/grpc/health/v1/health_pb.ts";
import { AuthorizePaymentRequestSchema } from "../lib/gen/payment/v1/payment_pb.ts";
import { PgLedgerStore } from "../lib/ledger/pg-ledger-store.ts";
import { createLogger } from "../lib/logging.ts";
import { openTreasury } from "../lib/payments/funding.ts";
import type { LedgerStore } from "../lib/payments/ledger-store.ts";
import { PaymentService } from "../lib/payments/service.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../tools/local-services/lambda-http.ts";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import { InMemoryLedgerStore } from "./in-memory-ledger-store.ts";
import { argValue, formatRate, formatUs, Latencies, machineLine, printTable, runFor } from "./support.ts";

const seconds = argValue("seconds", 8);
const workers = argValue("workers", 4);
const auth = authConfig({ JWT_SECRET: "bench-secret-bench-secret-bench-secret-00" });
const silent = createLogger({ function: "api", logLevel: "SILENT", env: {} });

async function setUp(store: LedgerStore, probe: () => Promise<boolean>) {
  const service = new PaymentService(store, { idempotencyKeyTtlSeconds: 86_400 });
  const handler = createApiHandler({
    service,
    verifier: createTokenVerifier(auth),
    healthProbe: probe,
    config: apiConfig({}),
    logger: silent,
  });
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
  return { handler, payers: payers.map(({ a }) => a.accountId), payee: payee.accountId };
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

/**
 * Calls `handler` one at a time, as one Lambda container is called, for
 * `durationMs`. calls/s is calls over the time spent inside the handler.
 */
async function timeHandler(
  handler: ApiHandler,
  makeEvent: () => APIGatewayProxyEventV2,
  durationMs: number,
): Promise<{ perSecond: number; latencies: Latencies; errors: number }> {
  const latencies = new Latencies();
  let errors = 0;
  let insideNs = 0n;
  const deadline = Date.now() + durationMs;
  while (Date.now() < deadline) {
    const calls = Array.from({ length: 1000 }, () => ({ event: makeEvent(), context: lambdaContext() }));
    for (const { event, context } of calls) {
      const t0 = process.hrtime.bigint();
      const result = await handler(event, context);
      latencies.record(t0);
      insideNs += process.hrtime.bigint() - t0;
      if (readGrpcWeb(result).code !== 0) errors += 1;
    }
  }
  return { perSecond: latencies.count / (Number(insideNs) / 1e9), latencies, errors };
}

async function call(handler: ApiHandler, event: APIGatewayProxyEventV2): Promise<void> {
  const outcome = readGrpcWeb(await handler(event, lambdaContext()));
  if (outcome.code !== 0) throw new Error(`grpc-status ${outcome.code}: ${outcome.message}`);
}

const rows: string[][] = [];
let yardstick = "";
const row = (name: string, callers: number, perSecond: number, latencies: Latencies, errors: number) =>
  rows.push([
    name,
    String(callers),
    formatRate(perSecond),
    formatUs(latencies.quantile(0.5)),
    formatUs(latencies.quantile(0.99)),
    String(errors),
  ]);

// (a) gateway alone. The clock sees the handler only: events and Lambda
// contexts are built before it starts (the client's and the runtime's work),
// and each result is read and checked after it stops (the client's work).
{
  const { handler, payers, payee } = await setUp(new InMemoryLedgerStore(), async () => true);
  const token = await signLocalToken(auth, { subject: "bench" });
  const payer = payers[0] as string;
  await timeHandler(handler, () => authorizeEvent(token, payer, payee), 2_000); // warm-up: JIT
  console.error(`(a) gateway alone, ${seconds} s…`);
  const a = await timeHandler(handler, () => authorizeEvent(token, payer, payee), seconds * 1000);
  row("(a) gateway alone, store in memory", 1, a.perSecond, a.latencies, a.errors);
}

// The floor: Connect-ES's unary handler alone, trivial method, no gateway around it.
{
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
  await runFor(1, 1_000, connectOnly);
  const floor = await runFor(1, Math.min(seconds, 3) * 1000, connectOnly);
  row("(a) Connect-ES unary handler alone (floor)", 1, floor.perSecond, floor.latencies, floor.errors);
  const token = await signLocalToken(auth, { subject: "bench" });
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
  console.log("target: gateway alone under 100 µs per call at p50");
} finally {
  await pool.end();
  await db.drop();
  await server.stop();
}
