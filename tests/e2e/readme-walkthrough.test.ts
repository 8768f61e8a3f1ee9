/**
 * The README's walkthrough, run exactly as written: every shell block marked
 * `<!-- walkthrough -->` in README.md, in order, in one bash, from a copy of
 * this checkout (as a fresh clone would be), against `npm run dev` started in
 * that copy. The blocks source the `.dev/env.sh` dev writes, so they need no
 * editing for the ports and ids of a run.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KAFKA_CLIENT_SETTINGS } from "../../tools/local-services/kafka/client-env.ts";
import { PROJECT_ROOT } from "../../tools/local-services/offline.ts";
import { freePorts } from "../../tools/local-services/ports.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { signalGroup } from "../../tools/local-services/process-group.ts";
import { testDatabase } from "../support/database.ts";
import { sharedKafkaEnv } from "../support/kafka-topics.ts";

const READY_TIMEOUT_MS = 300_000;
const WALKTHROUGH_TIMEOUT_MS = 600_000;
const MARKER = "<!-- walkthrough -->";

/** The shell blocks that follow a walkthrough marker, in README order. */
function walkthroughBlocks(readme: string): string[] {
  const blocks: string[] = [];
  const lines = readme.split("\n");
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i]?.trim() !== MARKER) continue;
    if (lines[i + 1]?.trim() !== "```sh")
      throw new Error(`line ${i + 2}: a walkthrough marker must precede a sh block`);
    const end = lines.indexOf("```", i + 2);
    if (end === -1) throw new Error(`line ${i + 2}: unterminated block`);
    blocks.push(lines.slice(i + 2, end).join("\n"));
    i = end;
  }
  return blocks;
}

let copy: string;
let db: TestDatabase;
let dev: ChildProcess | undefined;
let devOutput = "";

async function copyCheckout(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "readme-walkthrough-"));
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f && existsSync(join(PROJECT_ROOT, f)));
  for (const file of files) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await cp(join(PROJECT_ROOT, file), join(dir, file), { dereference: false });
  }
  // What `npm test` already installed: the same Node and dependencies a fresh clone installs first.
  for (const installed of ["node_modules", ".tools", ".cache"]) {
    if (existsSync(join(PROJECT_ROOT, installed)))
      await symlink(join(PROJECT_ROOT, installed), join(dir, installed));
  }
  return dir;
}

function waitFor(text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (devOutput.includes(text)) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() > deadline || dev?.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`npm run dev never printed "${text}":\n${devOutput.slice(-6000)}`));
      }
    }, 250);
  });
}

beforeAll(async () => {
  copy = await copyCheckout();
  db = await testDatabase("e2e_readme");
  const ports = (await freePorts(3)).map(String);
  dev = spawn(
    "npm",
    [
      "run",
      "dev",
      "--",
      "--http-port",
      ports[0] ?? "",
      "--lambda-port",
      ports[1] ?? "",
      "--web-port",
      ports[2] ?? "",
    ],
    {
      cwd: copy,
      env: {
        ...process.env,
        // This run's shared services, as a developer's own would be found through these variables.
        DATABASE_URL: db.url,
        ...sharedKafkaEnv(),
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  dev.stdout?.on("data", (chunk: Buffer) => {
    devOutput += chunk.toString("utf8");
  });
  dev.stderr?.on("data", (chunk: Buffer) => {
    devOutput += chunk.toString("utf8");
  });
  await waitFor("Ready.", READY_TIMEOUT_MS);
}, READY_TIMEOUT_MS + 60_000);

afterAll(async () => {
  if (dev?.pid && dev.exitCode === null) {
    const exited = new Promise((resolve) => dev?.once("exit", resolve));
    signalGroup(dev.pid, "SIGINT");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 60_000))]);
    if (dev.exitCode === null) signalGroup(dev.pid, "SIGKILL");
  }
  await db?.drop();
  if (copy) await rm(copy, { recursive: true, force: true });
}, 120_000);

describe("README walkthrough", () => {
  it("finds the walkthrough's blocks", async () => {
    const blocks = walkthroughBlocks(await readFile(join(PROJECT_ROOT, "README.md"), "utf8"));
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    const all = blocks.join("\n");
    for (const needed of [
      ". .dev/env.sh",
      "Health/Check",
      "/GetAccountBalance",
      "/AuthorizePayment",
      "/CapturePayment",
      "/VoidPayment",
      "/RefundPayment",
      "/GetPayment",
      "/ListLedgerEntries",
      "/CreateAccount",
      "examples/connect-web.ts",
      "npm run topics",
      "npm run consume",
      "npm run status",
      "drill:dead-letter",
      "npm run redrive",
      "npm run migrate",
      "npm run package",
    ]) {
      expect(all, needed).toContain(needed);
    }
  });

  it(
    "runs every block as written against npm run dev",
    async () => {
      const script = walkthroughBlocks(await readFile(join(copy, "README.md"), "utf8")).join("\n\n");
      const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
          cwd: copy,
          // Only what .dev/env.sh exports reaches the services: Postgres, and Kafka's listener and login.
          env: {
            ...process.env,
            DATABASE_URL: "",
            ...Object.fromEntries(KAFKA_CLIENT_SETTINGS.map((name) => [name, ""])),
          },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout?.on("data", (c: Buffer) => {
          output += c.toString("utf8");
        });
        child.stderr?.on("data", (c: Buffer) => {
          output += c.toString("utf8");
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), WALKTHROUGH_TIMEOUT_MS);
        child.once("exit", (code) => {
          clearTimeout(timer);
          resolve({ code, output });
        });
      });
      expect(result.code, result.output.slice(-8000)).toBe(0);
      const out = result.output;
      expect(out).toContain('"status": "SERVING"');
      expect(out).toContain('"status": "PAYMENT_STATUS_AUTHORIZED"');
      expect(out).toContain('"status": "PAYMENT_STATUS_DUPLICATE"');
      expect(out).toContain('"status": "PAYMENT_STATUS_HELD"');
      expect(out).toContain('"pendingBalanceCents": "20000"');
      expect(out).toContain('"status": "PAYMENT_STATUS_CAPTURED"');
      expect(out).toContain('"releasedAmountCents": "4500"');
      expect(out).toContain('"status": "REFUND_STATUS_REFUNDED"');
      expect(out).toContain('"refundedAmountCents": "3000"');
      expect(out).toContain('"status": "PAYMENT_STATUS_VOIDED"');
      expect(out).toContain('"nextPageToken"');
      expect(out).toContain('"hot": true');
      expect(out).toMatch(/same key again: DUPLICATE/);
      // The topics npm run dev made, found as the settings (and .dev/env.sh) say: nothing to change.
      expect(out).toMatch(/ok +payments\.paymentauthorized/);
      expect(out).toMatch(/ok +payments\.dlq/);
      expect(out).toMatch(/processed\s+\S+ \S+ PaymentAuthorized/);
      expect(out).toMatch(/dead letters not redriven: [1-9]/);
      expect(out).toMatch(/redriven [0-9A-HJKMNP-TV-Z]{26} at /);
      expect(out).toMatch(/migrate: (up to date|applied)/);
    },
    WALKTHROUGH_TIMEOUT_MS + 60_000,
  );
});
