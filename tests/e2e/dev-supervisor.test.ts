/**
 * `npm run dev` supervises what it starts: when serverless offline dies under
 * it, dev says which child died and why, stops the rest, and exits non-zero
 * (instead of printing nothing while the api is gone). While it runs, it
 * prints a live summary line read from its database.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { databaseConfig } from "../../lib/config.ts";
import { createPool } from "../../lib/db/pool.ts";
import { newId } from "../../lib/ids.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { PROJECT_ROOT } from "../../tools/local-services/offline.ts";
import { freePort } from "../../tools/local-services/ports.ts";
import { freshDatabase, type TestDatabase } from "../../tools/local-services/postgres.ts";
import { sharedBrokers } from "../support/kafka-topics.ts";

const TSX_BIN = join(PROJECT_ROOT, "node_modules", ".bin", "tsx");
const READY_TIMEOUT_MS = 240_000;
const WORK_FOLDER = `.esbuild/e2e-dev-${process.pid}`;
const EXIT_TIMEOUT_MS = 60_000;

let db: TestDatabase;
let dev: ChildProcess | undefined;
let output = "";
let exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let httpPort: number;

function waitForOutput(text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (output.includes(text)) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() > deadline || dev?.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`dev never printed "${text}":\n${output.slice(-6000)}`));
      }
    }, 200);
  });
}

/** The serverless offline process dev started: found by the port it was given. */
function offlinePid(): number {
  const processes = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  const line = processes
    .split("\n")
    .find((l) => l.includes("serverless.js offline") && l.includes(`--httpPort ${httpPort}`));
  if (!line) throw new Error(`no serverless offline process on --httpPort ${httpPort}`);
  return Number(line.trim().split(/\s+/)[0]);
}

beforeAll(async () => {
  db = await freshDatabase(inject("pgAdminUrl"), "e2e_dev");
  httpPort = await freePort();
  const lambdaPort = await freePort();
  const webPort = await freePort();
  dev = spawn(
    TSX_BIN,
    [
      "scripts/dev.ts",
      "--http-port",
      String(httpPort),
      "--lambda-port",
      String(lambdaPort),
      "--web-port",
      String(webPort),
      // Not the developer's own .dev/env.sh.
      "--env-out",
      join(".esbuild", `e2e-dev-${process.pid}.env.sh`),
    ],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        // The run's services, so dev starts only serverless offline.
        DATABASE_URL: db.url,
        KAFKA_BROKERS: sharedBrokers().join(","),
        ESBUILD_WORK_FOLDER: WORK_FOLDER,
        DRAIN_SCHEDULE: "off",
        DEV_SUMMARY_INTERVAL_MS: "500",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  exit = new Promise((resolve) => dev?.once("exit", (code, signal) => resolve({ code, signal })));
  dev.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  dev.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  await waitForOutput("Ready.", READY_TIMEOUT_MS);
});

afterAll(async () => {
  if (dev && dev.exitCode === null && dev.signalCode === null) {
    dev.kill("SIGINT");
    await exit;
  }
  await db?.drop();
  await rm(join(PROJECT_ROOT, WORK_FOLDER), { recursive: true, force: true });
});

describe("npm run dev", () => {
  it("prints a summary line read from its database after a payment", async () => {
    const line =
      /^summary │ \d+\.\d payments\/s · declines (\d+) \(ACCOUNT_NOT_FOUND \1\) · pending \d+ · lag .+ · dead letters 0$/m;
    const pool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 1 });
    try {
      const service = new PaymentService(new PgLedgerStore(pool), { idempotencyKeyTtlSeconds: 60 });
      // Again if the first one beat the summary's baseline sample (taken as dev prints "Ready.").
      for (let attempt = 1; attempt <= 5 && !line.test(output); attempt++) {
        const result = await service.authorizePayment({
          idempotencyKey: `dev-summary-${process.pid}-${attempt}`,
          payerAccountId: newId(),
          payeeAccountId: newId(),
          amountCents: 100n,
          currency: "EUR",
          description: "summary",
        });
        expect(result.decline?.code).toBe("ACCOUNT_NOT_FOUND");
        await waitForOutput("ACCOUNT_NOT_FOUND", 3000).catch(() => undefined);
      }
    } finally {
      await pool.end();
    }
    expect(output).toMatch(line);
  });

  it("reports serverless offline dying (signal, last output), stops the rest and exits non-zero", async () => {
    process.kill(offlinePid(), "SIGKILL");
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      exit,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`dev still running after offline died:\n${output.slice(-4000)}`)),
          EXIT_TIMEOUT_MS,
        );
      }),
    ]);
    clearTimeout(timer);
    expect(result.code, output.slice(-4000)).toBe(1);
    expect(output).toContain("dev │ serverless offline died: exited with SIGKILL; last output:");
    expect(output).toContain("dev │ stopping…");
    // Nothing of offline survives (esbuild, Lambda workers): its whole process group is gone.
    expect(() => offlinePid()).toThrow(/no serverless offline process/);
  });
});
