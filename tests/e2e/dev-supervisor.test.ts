/**
 * `npm run dev` supervises what it starts: when serverless offline dies under
 * it, dev says which child died and why, stops the rest, and exits non-zero
 * (instead of printing nothing while the api is gone). While it runs, it
 * prints a live summary line read from its database, lets a second front end
 * the shell names call the api, and none of its servers answers a foreign Host.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { databaseConfig } from "../../lib/config.ts";
import { createPool } from "../../lib/db/pool.ts";
import { newId } from "../../lib/ids.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { PROJECT_ROOT } from "../../tools/local-services/offline.ts";
import { freePorts } from "../../tools/local-services/ports.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { testDatabase } from "../support/database.ts";
import { sharedKafkaEnv } from "../support/kafka-topics.ts";

const READY_TIMEOUT_MS = 240_000;
const WORK_FOLDER = `.esbuild/e2e-dev-${process.pid}`;
const EXIT_TIMEOUT_MS = 60_000;
// A second front end the developer runs besides the web client (the shell's CORS_ALLOWED_ORIGINS).
const SECOND_FRONT_END = "http://localhost:4000";

let db: TestDatabase;

interface DevRun {
  process: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  httpPort: number;
  webPort: number;
}

/**
 * Starts dev on the run's Postgres and broker (so it starts only serverless
 * offline) and resolves once it printed "Ready.". `npm` runs it the way a user
 * does; `node` runs the script alone, as npm's script does.
 */
async function startDev(via: "npm" | "node", name: string): Promise<DevRun> {
  const [httpPort = 0, lambdaPort = 0, webPort = 0] = await freePorts(3);
  const args = [
    "scripts/dev.ts",
    "--http-port",
    String(httpPort),
    "--lambda-port",
    String(lambdaPort),
    "--web-port",
    String(webPort),
    // Not the developer's own .dev/env.sh.
    "--env-out",
    join(".esbuild", `e2e-${name}-${process.pid}.env.sh`),
  ];
  const child = spawn(
    via === "npm" ? "npm" : process.execPath,
    via === "npm" ? ["run", "dev", "--", ...args.slice(1)] : ["--import", "tsx", ...args],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        // The shared broker's listener: TLS trusting its CA, SCRAM login.
        ...sharedKafkaEnv(),
        ESBUILD_WORK_FOLDER: `${WORK_FOLDER}-${name}`,
        DRAIN_SCHEDULE: "off",
        DEV_SUMMARY_INTERVAL_MS: "500",
        CORS_ALLOWED_ORIGINS: SECOND_FRONT_END,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const append = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const run = { process: child, output: () => output, exit, httpPort, webPort };
  await waitForOutput(run, "Ready.", READY_TIMEOUT_MS);
  return run;
}

async function stopped(run: DevRun): Promise<void> {
  if (run.process.exitCode === null && run.process.signalCode === null) {
    run.process.kill("SIGINT");
    await run.exit;
  }
}

function waitForOutput(run: DevRun, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (run.output().includes(text)) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() > deadline || run.process.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`dev never printed "${text}":\n${run.output().slice(-6000)}`));
      }
    }, 200);
  });
}

/** The serverless offline process a dev run started: found by the port it was given. */
function offlinePid(run: DevRun): number {
  const processes = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  const line = processes
    .split("\n")
    .find((l) => l.includes("serverless.js offline") && l.includes(`--httpPort ${run.httpPort}`));
  if (!line) throw new Error(`no serverless offline process on --httpPort ${run.httpPort}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** Resolves with how the run exited, or rejects after EXIT_TIMEOUT_MS with what it printed. */
async function exited(
  run: DevRun,
  why: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run.exit,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`dev still running after ${why}:\n${run.output().slice(-4000)}`)),
          EXIT_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

let dev: DevRun;

beforeAll(async () => {
  db = await testDatabase("e2e_dev");
  dev = await startDev("node", "dev");
});

afterAll(async () => {
  if (dev) await stopped(dev);
  await db?.drop();
  for (const name of ["dev", "npm"]) {
    await rm(join(PROJECT_ROOT, `${WORK_FOLDER}-${name}`), { recursive: true, force: true });
  }
});

/** One HTTP exchange with a Host and headers of the test's choosing (fetch cannot set Host). */
function exchange(
  port: number,
  options: { method: string; path: string; host: string; headers?: Record<string, string> },
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: options.method,
        path: options.path,
        headers: { ...options.headers, host: options.host },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.once("error", reject);
    req.end();
  });
}

describe("npm run dev", () => {
  it("adds the shell's CORS_ALLOWED_ORIGINS to the web client's origin: both front ends may call the api", async () => {
    const preflight = (origin: string) =>
      exchange(dev.httpPort, {
        method: "OPTIONS",
        path: "/payment.v1.PaymentService/GetAccountBalance",
        host: `localhost:${dev.httpPort}`,
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type,x-grpc-web",
        },
      });
    for (const origin of [`http://localhost:${dev.webPort}`, SECOND_FRONT_END]) {
      const answer = await preflight(origin);
      expect(answer.headers["access-control-allow-origin"], origin).toBe(origin);
    }
    expect((await preflight("http://localhost:4001")).headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("none of its servers answers a foreign Host (DNS rebinding): no token minted, no api call", async () => {
    const foreign = (port: number) => `rebind.attacker.example:${port}`;
    const session = await exchange(dev.webPort, {
      method: "GET",
      path: "/dev/session?owner=alice",
      host: foreign(dev.webPort),
    });
    expect(session.status).toBe(403);
    expect(session.body).not.toContain("token");
    const api = await exchange(dev.httpPort, {
      method: "POST",
      path: "/payment.v1.PaymentService/GetAccountBalance",
      host: foreign(dev.httpPort),
      headers: { "content-type": "application/grpc-web+proto" },
    });
    expect(api.status).toBe(403);
    // The same requests with the page's own Host are served.
    const own = await exchange(dev.webPort, {
      method: "GET",
      path: "/dev/session?owner=alice",
      host: `localhost:${dev.webPort}`,
    });
    expect(own.status).toBe(200);
    expect(JSON.parse(own.body)).toMatchObject({ subject: "alice", token: expect.any(String) });
  });

  it("prints a summary line read from its database after a payment", async () => {
    const line =
      /^summary │ \d+\.\d payments\/s · declines (\d+) \(ACCOUNT_NOT_FOUND \1\) · pending \d+ · lag .+ · dead letters 0$/m;
    const pool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 1 });
    try {
      const service = new PaymentService(new PgLedgerStore(pool), { idempotencyKeyTtlSeconds: 60 });
      // Again if the first one beat the summary's baseline sample (taken as dev prints "Ready.").
      for (let attempt = 1; attempt <= 5 && !line.test(dev.output()); attempt++) {
        const result = await service.authorizePayment({
          idempotencyKey: `dev-summary-${process.pid}-${attempt}`,
          payerAccountId: newId(),
          payeeAccountId: newId(),
          amountCents: 100n,
          currency: "EUR",
          description: "summary",
        });
        expect(result.decline?.code).toBe("ACCOUNT_NOT_FOUND");
        await waitForOutput(dev, "ACCOUNT_NOT_FOUND", 3000).catch(() => undefined);
      }
    } finally {
      await pool.end();
    }
    expect(dev.output()).toMatch(line);
  });

  it("reports serverless offline dying (signal, last output), stops the rest and exits non-zero", async () => {
    process.kill(offlinePid(dev), "SIGKILL");
    const result = await exited(dev, "offline died");
    expect(result.code, dev.output().slice(-4000)).toBe(1);
    expect(dev.output()).toContain("dev │ serverless offline died: exited with SIGKILL; last output:");
    expect(dev.output()).toContain("dev │ stopping…");
    // Nothing of offline survives (esbuild, Lambda workers): its whole process group is gone.
    expect(() => offlinePid(dev)).toThrow(/no serverless offline process/);
  });

  it("stops everything it started when the npm process is terminated (an IDE's stop button, kill <pid>)", async () => {
    const run = await startDev("npm", "npm");
    try {
      // npm forwards the signal to the script's process; a shell in between would die of it
      // and leave dev, offline and the services running.
      run.process.kill("SIGTERM");
      await exited(run, "npm was terminated");
      // npm is gone; dev's own stop is what shows it stopped the rest.
      await vi.waitFor(
        () => {
          expect(run.output()).toContain("dev │ stopped serverless offline");
          expect(() => offlinePid(run)).toThrow(/no serverless offline process/);
        },
        { timeout: EXIT_TIMEOUT_MS, interval: 500 },
      );
    } finally {
      await stopped(run);
    }
  });
});
