/**
 * Cold start of each Lambda bundle: `serverless package`, unzip each function
 * as Lambda lays it out, then import its handler module in a fresh Node
 * process, many times. The number is the module's init (loading, parsing and
 * running its top-level code), the part of a cold start the bundle controls.
 *
 *   npm run bench:cold-start -- [--runs 15]
 *
 * "init CPU" is the process's CPU time for the same import (all its threads):
 * on a shared machine, where wall time swings, it is the steadier of the two.
 * "as deployed" runs with the function's NODE_OPTIONS from the template (none:
 * stacks are source-mapped when printed, lib/observability/source-mapped-stacks.ts);
 * the "--enable-source-maps" column shows what Node's eager mapping would cost.
 * "X-Ray on" is as deployed plus what dev and prod add (XRAY_TRACING_ENABLED)
 * and the variables Lambda sets, for the functions that load X-Ray code
 * then (api, drainOutbox); with it off they load none of it.
 *
 * For the api, "init + first call" also serves one AuthorizePayment in the
 * same fresh process, against a local Postgres (DATABASE_URL when set): what a
 * caller that starts a container waits for, so work moved from the init into
 * the first call shows there. The outbox nudge is off for it (it would invoke
 * a Lambda in AWS); the init columns run the template's settings unchanged.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { signLocalToken } from "../lib/auth/local-token.ts";
import { authConfig, databaseConfig } from "../lib/config.ts";
import { createPool } from "../lib/db/pool.ts";
import { AuthorizePaymentRequestSchema } from "../lib/gen/payment/v1/payment_pb.ts";
import { PgLedgerStore } from "../lib/ledger/pg-ledger-store.ts";
import { fundAccount, openTreasury } from "../lib/payments/funding.ts";
import { PaymentService } from "../lib/payments/service.ts";
import { frame, grpcWebEvent } from "../tools/local-services/grpc-web-events.ts";
import { PROJECT_ROOT } from "../tools/local-services/offline.ts";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import {
  extractZip,
  FUNCTION_KEYS,
  handlerFile,
  lambdaResource,
  packageService,
  zipEntrySizes,
} from "../tools/local-services/serverless-package.ts";
import { argValue, formatMs, machineLine, printTable } from "./support.ts";

const execFileAsync = promisify(execFile);
const API_TARGET_MS = 100;
/** Functions whose init loads X-Ray code when tracing is on (lib/observability/lambda-tracing.ts, xray-publish-tracer.ts). */
const TRACED_AT_INIT = new Set<string>(["api", "drainOutbox"]);

// Prints the import's wall time in nanoseconds and the process's CPU time for it in microseconds
// (main thread and V8's helper threads: it holds on a busy machine, where wall time swings);
// runs as an ES module inside the unzipped function.
const PROBE = `
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await import(process.argv[1]);
const wall = process.hrtime.bigint() - t0;
const cpu = process.cpuUsage(c0);
process.stdout.write(wall + " " + (cpu.user + cpu.system));
`;

// Imports the handler, then serves the event in argv[2] (JSON) as its first call; prints the wall
// times (ns) and the process's CPU times (µs) at the end of the import and of the call.
const FIRST_CALL_PROBE = `
import { readFileSync } from "node:fs";
const event = JSON.parse(readFileSync(process.argv[2], "utf8"));
const cpu = (c) => c.user + c.system;
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const { handler } = await import(process.argv[1]);
const t1 = process.hrtime.bigint();
const c1 = process.cpuUsage(c0);
const deadline = Date.now() + 10_000;
const result = await handler(event, {
  awsRequestId: "cold-start", functionName: "api", callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => deadline - Date.now(),
});
const t2 = process.hrtime.bigint();
const c2 = process.cpuUsage(c0);
// The status is in the headers (trailers-only) or in the body's trailer frame.
const body = Buffer.from(result.body ?? "", result.isBase64Encoded ? "base64" : "utf8").toString("latin1");
const status = result.headers["grpc-status"] ?? /grpc-status:\\s*(\\d+)/.exec(body)?.[1];
if (result.statusCode !== 200 || status !== "0") {
  throw new Error("first call failed: " + JSON.stringify(result));
}
process.stdout.write(JSON.stringify({
  init: String(t1 - t0), total: String(t2 - t0), initCpuUs: cpu(c1), totalCpuUs: cpu(c2),
}));
process.exit(0);
`;

/** Nearest-rank quantile of sorted samples. */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/**
 * A migrated database with a funded payer, and `count` AuthorizePayment events
 * (each its own idempotency key) for the api's first calls.
 */
async function firstCallEvents(count: number, dir: string) {
  const server = await providePostgres({ log: (line) => console.error(line) });
  const db = await freshDatabase(server.adminUrl, "coldstart");
  const pool = createPool(databaseConfig({ DATABASE_URL: db.url }));
  try {
    const service = new PaymentService(new PgLedgerStore(pool), { idempotencyKeyTtlSeconds: 86_400 });
    const treasury = await openTreasury(service, "EUR");
    const payer = await service.createAccount({ owner: "bench", currency: "EUR", system: false });
    const payee = await service.createAccount({ owner: "merchant", currency: "EUR", system: false });
    await fundAccount(service, { treasury, account: payer, amountCents: 1_000_000_000n });
    // The api's local stage has no JWT settings: it accepts the local development secret.
    const token = await signLocalToken(authConfig({}), { subject: "bench" });
    const files: string[] = [];
    for (let i = 0; i < count; i++) {
      const body = toBinary(
        AuthorizePaymentRequestSchema,
        create(AuthorizePaymentRequestSchema, {
          idempotencyKey: `cold-start-${process.pid}-${i}`,
          payerAccountId: payer.accountId,
          payeeAccountId: payee.accountId,
          amountCents: 1n,
          currency: "EUR",
          description: "cold start",
        }),
      );
      const event = grpcWebEvent("/payment.v1.PaymentService/AuthorizePayment", {
        body: frame(body),
        headers: { authorization: `Bearer ${token}`, origin: "https://app.example.com", "x-grpc-web": "1" },
      });
      const file = join(dir, `first-call-${i}.json`);
      await writeFile(file, JSON.stringify(event));
      files.push(file);
    }
    return {
      databaseUrl: db.url,
      source: server.source,
      files,
      stop: async () => {
        await db.drop();
        await server.stop();
      },
    };
  } finally {
    await pool.end();
  }
}

const runs = argValue("runs", 15);
const work = await mkdtemp(join(tmpdir(), "ledger-cold-start-"));
let firstCalls: Awaited<ReturnType<typeof firstCallEvents>> | undefined;
try {
  firstCalls = await firstCallEvents(runs, work);
  console.error("packaging (serverless package --stage local)…");
  const service = await packageService("local", join(work, "package"));
  // The Node runtime provides AWS SDK v3 outside the function's code (the bundles leave it out).
  await mkdir(join(work, "node_modules"), { recursive: true });
  await symlink(join(PROJECT_ROOT, "node_modules", "@aws-sdk"), join(work, "node_modules", "@aws-sdk"));

  const rows: string[][] = [];
  let apiP50Ms = Number.NaN;
  let apiTracedP50Ms = Number.NaN;
  let apiFirstCallMs = {
    init: Number.NaN,
    total: Number.NaN,
    total99: Number.NaN,
    initCpu: Number.NaN,
    totalCpu: Number.NaN,
  };
  for (const fn of FUNCTION_KEYS) {
    const taskRoot = join(work, fn);
    await extractZip(service.zipPath(fn), taskRoot);
    const resource = lambdaResource(service.template, fn);
    const { file } = handlerFile(resource);
    const env = (resource.Properties.Environment as { Variables: Record<string, string> }).Variables;
    const sizes = await zipEntrySizes(service.zipPath(fn));
    const bundleBytes = sizes.get(file) ?? 0;
    // Code split off the bundle (esbuild splitting): what import() loads only when asked, and shared parts.
    const chunkBytes = [...sizes].reduce(
      (sum, [name, bytes]) => (name !== file && name.endsWith(".mjs") ? sum + bytes : sum),
      0,
    );

    // What dev/prod set, and what Lambda sets in a traced function's sandbox (the SDKs read them at load).
    const xray = {
      XRAY_TRACING_ENABLED: "true",
      LAMBDA_TASK_ROOT: taskRoot,
      AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
      AWS_LAMBDA_FUNCTION_NAME: String(resource.Properties.FunctionName),
      _HANDLER: String(resource.Properties.Handler),
      AWS_XRAY_DAEMON_ADDRESS: "127.0.0.1:2000",
    };
    const sample = async (nodeOptions: string, extra: Record<string, string> = {}) => {
      const { stdout } = await execFileAsync(
        process.execPath,
        ["--input-type=module", "-e", PROBE, join(taskRoot, file)],
        {
          cwd: taskRoot,
          env: { PATH: process.env.PATH ?? "", ...env, ...extra, NODE_OPTIONS: nodeOptions },
        },
      );
      const [wallNs, cpuUs] = stdout.trim().split(" ").map(Number);
      return { wallNs: wallNs ?? Number.NaN, cpuNs: (cpuUs ?? Number.NaN) * 1000 };
    };
    // Interleaved, one sample of each variant per round: this machine's speed drifts by tens of
    // percent over minutes, which would otherwise land on whichever column ran at the time.
    const firstCall = async (i: number) => {
      const { stdout } = await execFileAsync(
        process.execPath,
        ["--input-type=module", "-e", FIRST_CALL_PROBE, join(taskRoot, file), firstCalls?.files[i] ?? ""],
        {
          cwd: taskRoot,
          env: {
            PATH: process.env.PATH ?? "",
            ...env,
            DATABASE_URL: firstCalls?.databaseUrl ?? "",
            OUTBOX_NUDGE_ENABLED: "false",
            POWERTOOLS_LOG_LEVEL: "WARN",
          },
        },
      );
      const times = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
        init: string;
        total: string;
        initCpuUs: number;
        totalCpuUs: number;
      };
      return {
        init: Number(times.init),
        total: Number(times.total),
        initCpu: times.initCpuUs * 1000,
        totalCpu: times.totalCpuUs * 1000,
      };
    };
    const deployed: number[] = [];
    const deployedCpu: number[] = [];
    const eagerMaps: number[] = [];
    const traced: number[] | undefined = TRACED_AT_INIT.has(fn) ? [] : undefined;
    const firstInit: number[] = [];
    const firstTotal: number[] = [];
    const firstInitCpu: number[] = [];
    const firstTotalCpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      const asDeployed = await sample(env.NODE_OPTIONS ?? "");
      deployed.push(asDeployed.wallNs);
      deployedCpu.push(asDeployed.cpuNs);
      eagerMaps.push((await sample(`${env.NODE_OPTIONS ?? ""} --enable-source-maps`.trim())).wallNs);
      if (traced) traced.push((await sample(env.NODE_OPTIONS ?? "", xray)).wallNs);
      if (fn === "api") {
        const times = await firstCall(i);
        firstInit.push(times.init);
        firstTotal.push(times.total);
        firstInitCpu.push(times.initCpu);
        firstTotalCpu.push(times.totalCpu);
      }
    }
    for (const samples of [firstInit, firstTotal, firstInitCpu, firstTotalCpu]) samples.sort((a, b) => a - b);
    for (const samples of [deployed, deployedCpu, eagerMaps, traced ?? []]) samples.sort((a, b) => a - b);
    if (fn === "api") {
      apiP50Ms = quantile(deployed, 0.5) / 1e6;
      apiTracedP50Ms = traced ? quantile(traced, 0.5) / 1e6 : Number.NaN;
      apiFirstCallMs = {
        init: quantile(firstInit, 0.5) / 1e6,
        total: quantile(firstTotal, 0.5) / 1e6,
        total99: quantile(firstTotal, 0.99) / 1e6,
        initCpu: quantile(firstInitCpu, 0.5) / 1e6,
        totalCpu: quantile(firstTotalCpu, 0.5) / 1e6,
      };
    }
    rows.push([
      fn,
      `${(bundleBytes / 1024).toFixed(0)} KiB${chunkBytes ? ` + ${(chunkBytes / 1024).toFixed(0)} KiB chunks` : ""}`,
      formatMs(quantile(deployed, 0.5)),
      formatMs(quantile(deployed, 0.99)),
      formatMs(quantile(deployedCpu, 0.5)),
      formatMs(quantile(eagerMaps, 0.5)),
      traced ? formatMs(quantile(traced, 0.5)) : "same",
    ]);
  }

  console.log(`\nCold start: import of the handler module in a fresh process, ${runs} runs each`);
  console.log(machineLine([`${runs} runs`]));
  printTable(
    [
      "function",
      "bundle",
      "init p50 (as deployed)",
      "init p99 (as deployed)",
      "init CPU p50 (as deployed)",
      "init p50 (--enable-source-maps)",
      "init p50 (X-Ray on)",
    ],
    rows,
  );
  console.log(
    `\napi p50 ${apiP50Ms.toFixed(1)} ms against a target of ${API_TARGET_MS} ms: ${apiP50Ms < API_TARGET_MS ? "met" : "MISSED"}`,
  );
  console.log(`api p50 with X-Ray on (dev, prod): ${apiTracedP50Ms.toFixed(1)} ms`);
  console.log(
    `api init + first AuthorizePayment (Postgres: ${firstCalls.source}, nudge off): ` +
      `p50 ${apiFirstCallMs.total.toFixed(1)} ms (its init ${apiFirstCallMs.init.toFixed(1)} ms), p99 ${apiFirstCallMs.total99.toFixed(1)} ms; ` +
      `CPU p50 ${apiFirstCallMs.totalCpu.toFixed(1)} ms (its init ${apiFirstCallMs.initCpu.toFixed(1)} ms)`,
  );
} finally {
  await firstCalls?.stop();
  await rm(work, { recursive: true, force: true });
}
