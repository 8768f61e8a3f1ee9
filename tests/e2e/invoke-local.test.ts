/**
 * `serverless invoke local`, the way a Serverless user tests one function:
 * the real command, the real esbuild bundle, the sample events in events/,
 * against the run's Postgres and Kafka. Each invocation must print the
 * function's result and exit on its own (pools and producers stay open for
 * the next invocation, as on Lambda) with the function's outcome as its code.
 */
import { spawn } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig, databaseConfig } from "../../lib/config.ts";
import { createPool, type Pool } from "../../lib/db/pool.ts";
import {
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../lib/gen/grpc/health/v1/health_pb.ts";
import { AuthorizePaymentResponseSchema, PaymentStatus } from "../../lib/gen/payment/v1/payment_pb.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import { type DemoAccounts, seedDemo } from "../../scripts/demo-seed.ts";
import { authorizePaymentEvent, DEAD_LETTER_EVENT } from "../../scripts/sample-events.ts";
import { PROJECT_ROOT } from "../../tools/local-services/offline.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { testDatabase } from "../support/database.ts";
import {
  createLedgerTopics,
  readTopics,
  sharedKafkaEnv,
  testKafka,
  uniqueTopicPrefix,
} from "../support/kafka-topics.ts";

const SERVERLESS_BIN = join(PROJECT_ROOT, "node_modules", "serverless", "bin", "serverless.js");
// Bundling plus the function itself; a command still running after this never exits on its own.
const INVOKE_TIMEOUT_MS = 110_000;
const AUTH_ENV = {
  JWT_SECRET: "e2e-invoke-local-secret-0123456789abcdef",
  JWT_ISSUER: "https://issuer.e2e.test",
  JWT_AUDIENCE: "payment-ledger-e2e",
};
const WORK_FOLDER = `.esbuild/e2e-invoke-${process.pid}`;

interface Invocation {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The function's result: the JSON the command prints last. */
  result: Record<string, unknown>;
}

let db: TestDatabase;
let pool: Pool;
let prefix: string;
let accounts: DemoAccounts;

function invokeLocal(fn: string, args: string[], env: Record<string, string> = {}): Promise<Invocation> {
  const child = spawn(process.execPath, [SERVERLESS_BIN, "invoke", "local", "--function", fn, ...args], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      ...AUTH_ENV,
      SLS_TELEMETRY_DISABLED: "1",
      SLS_NOTIFICATIONS_MODE: "off",
      AWS_REGION: "us-east-1",
      ESBUILD_WORK_FOLDER: WORK_FOLDER,
      DATABASE_URL: db.url,
      ...sharedKafkaEnv(),
      KAFKA_LOG_LEVEL: "nothing",
      OUTBOX_TOPIC_PREFIX: prefix,
      // No Lambda API to nudge the drain through; the test invokes it itself.
      OUTBOX_NUDGE_ENABLED: "false",
      POWERTOOLS_LOG_LEVEL: "WARN",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`invoke local ${fn} still running after ${INVOKE_TIMEOUT_MS} ms\n${stdout}\n${stderr}`),
      );
    }, INVOKE_TIMEOUT_MS);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, result: lastJson(stdout) });
    });
  });
}

/** The result block: from the last line that opens a JSON object at column 0 to the end. */
function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.split("\n");
  const start = lines.lastIndexOf("{");
  if (start < 0) return {};
  try {
    return JSON.parse(lines.slice(start).join("\n")) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Splits a gRPC-web response body into its message and its trailers. */
function grpcWebResponse(result: Record<string, unknown>): {
  message?: Uint8Array;
  trailers: Record<string, string>;
} {
  expect(result).toMatchObject({ statusCode: 200, isBase64Encoded: true });
  const body = Buffer.from(String(result.body), "base64");
  let message: Uint8Array | undefined;
  const trailers: Record<string, string> = {};
  for (let at = 0; at < body.length; ) {
    const flags = body.readUInt8(at);
    const length = body.readUInt32BE(at + 1);
    const frame = body.subarray(at + 5, at + 5 + length);
    if (flags & 0x80) {
      for (const line of frame.toString("utf8").split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    } else {
      message = frame;
    }
    at += 5 + length;
  }
  return { ...(message && { message }), trailers };
}

beforeAll(async () => {
  db = await testDatabase("e2e_invoke");
  pool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 2 });
  accounts = await seedDemo(pool);
  prefix = uniqueTopicPrefix();
  await createLedgerTopics(sharedKafkaEnv(), prefix);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
  await rm(join(PROJECT_ROOT, WORK_FOLDER), { recursive: true, force: true });
});

describe("serverless invoke local", { timeout: 120_000 }, () => {
  it("migrate applies every migration to an empty database and exits 0", async () => {
    // Empty: the migrate function is what migrates it (directly, as the deploy runs it).
    const empty = await testDatabase("e2e_invoke_empty", { migrate: false });
    try {
      const run = await invokeLocal("migrate", [], { DATABASE_URL: empty.directUrl });
      expect(run.code, run.stderr).toBe(0);
      const migrations = (await readdir(join(PROJECT_ROOT, "lib/db/migrations")))
        .filter((file) => file.endsWith(".sql"))
        .map((file) => file.replace(/\.sql$/, ""))
        .sort();
      const functions = (await readdir(join(PROJECT_ROOT, "lib/ledger/sql")))
        .filter((file) => file.endsWith(".sql"))
        .sort();
      expect(run.result).toEqual({ applied: migrations, functions });
    } finally {
      await empty.drop();
    }
  });

  it("api answers the sample Health/Check event (no token needed) with SERVING", async () => {
    const run = await invokeLocal("api", ["--path", "events/api/health-check.json"]);
    expect(run.code, run.stderr).toBe(0);
    const response = grpcWebResponse(run.result);
    expect(response.trailers["grpc-status"]).toBe("0");
    expect(fromBinary(HealthCheckResponseSchema, response.message ?? new Uint8Array()).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
  });

  it("api refuses the sample AuthorizePayment event without a token: UNAUTHENTICATED, nothing written", async () => {
    const before = (await pool.query("SELECT count(*)::int AS n FROM payments")).rows[0].n;
    const run = await invokeLocal("api", ["--path", "events/api/authorize-payment.json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(grpcWebResponse(run.result).trailers["grpc-status"]).toBe("16");
    expect((await pool.query("SELECT count(*)::int AS n FROM payments")).rows[0].n).toBe(before);
  });

  let paymentId = "";

  it("api authorizes a payment from an event with alice's token", async () => {
    const token = await signLocalToken(authConfig(AUTH_ENV), { subject: "alice" });
    const event = authorizePaymentEvent({
      payerAccountId: accounts.alice.accountId,
      payeeAccountId: accounts.bob.accountId,
      amountCents: 1_250n,
      idempotencyKey: "invoke-local-coffee",
      token,
    });
    const run = await invokeLocal("api", ["--data", JSON.stringify(event)]);
    expect(run.code, run.stderr).toBe(0);
    const response = grpcWebResponse(run.result);
    expect(response.trailers["grpc-status"]).toBe("0");
    const authorized = fromBinary(AuthorizePaymentResponseSchema, response.message ?? new Uint8Array());
    expect(authorized.status).toBe(PaymentStatus.AUTHORIZED);
    paymentId = authorized.paymentId;
  });

  it("drainOutbox, given the sample schedule event, publishes the payment to Kafka and exits 0", async () => {
    expect(paymentId).not.toBe("");
    const run = await invokeLocal("drainOutbox", ["--path", "events/drain-outbox/schedule.json"]);
    expect(run.code, run.stderr).toBe(0);
    // Two demo fundings and the coffee.
    expect(run.result).toMatchObject({ published: 3, deadLettered: 0, stoppedBy: "drained" });
    const messages = await readTopics(testKafka(sharedKafkaEnv()), [topicFor(prefix, "PaymentAuthorized")]);
    expect(messages.map((m) => m.key)).toContain(paymentId);
  });

  it("deadLetter records and publishes the sample envelope to the DLQ topic and exits 0", async () => {
    const run = await invokeLocal("deadLetter", ["--path", "events/dead-letter/envelope.json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.result).toEqual({ eventId: DEAD_LETTER_EVENT.event_id, recorded: true, published: true });
    const messages = await readTopics(testKafka(sharedKafkaEnv()), [`${prefix}.dlq`]);
    expect(messages).toHaveLength(1);
  });

  it("a function that fails prints the error and exits 1", async () => {
    const run = await invokeLocal("deadLetter", ["--data", "{}"]);
    expect(run.code).toBe(1);
    expect(run.result).toMatchObject({ errorType: expect.any(String) });
    expect(String(run.result.errorMessage)).toMatch(/dead letter/);
  });
});
