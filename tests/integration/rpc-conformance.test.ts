/**
 * The official Connect conformance suite (connectrpc/conformance, server
 * mode) against lib/rpc: the runner's reference gRPC-web client calls a
 * ConformanceService mounted on createGrpcWebGateway behind lambdaHandler,
 * over HTTP through the API Gateway bridge (tests/conformance/server.ts).
 * gRPC-web, proto, unary and server streaming (tests/conformance/config.yaml),
 * once in a Lambda invocation with a 30 s timeout and once without a
 * deadline. Every case must pass: there is no known-failing list, as no case
 * of this configuration depends on streaming the response as it is written
 * (a Lambda's response is buffered).
 *
 * The runner is built with Go (tests/conformance/runner.ts); without Go the
 * suite is skipped and says why.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { installRunner, probeGo } from "../conformance/runner.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const SERVER = ["sh", "scripts/ts.sh", "tests/conformance/server.ts"];

const go = await probeGo();
if (!go.ok) console.log(`conformance suite skipped: ${go.reason}`);

interface SuiteResult {
  exitCode: number;
  output: string;
  total: number | undefined;
  passed: number | undefined;
  failed: number | undefined;
}

async function runSuite(runner: string, serverArgs: string[]): Promise<SuiteResult> {
  const args = [
    "--mode",
    "server",
    "--conf",
    "tests/conformance/config.yaml",
    "--",
    ...SERVER,
    ...serverArgs,
  ];
  let exitCode = 0;
  let output: string;
  try {
    const { stdout, stderr } = await run(runner, args, { cwd: root, timeout: 300_000, maxBuffer: 16 << 20 });
    output = stdout + stderr;
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    exitCode = typeof failed.code === "number" ? failed.code : -1;
    output = `${failed.stdout ?? ""}${failed.stderr ?? ""}` || String(error);
  }
  const total = /^Total cases: (\d+)$/m.exec(output)?.[1];
  const counts = /^(\d+) passed, (\d+) failed$/m.exec(output);
  return {
    exitCode,
    output,
    total: total === undefined ? undefined : Number(total),
    passed: counts ? Number(counts[1]) : undefined,
    failed: counts ? Number(counts[2]) : undefined,
  };
}

describe.skipIf(!go.ok)("the Connect conformance suite against lib/rpc", () => {
  let runner: string;

  beforeAll(async () => {
    runner = await installRunner();
  }, 900_000);

  it.each([
    ["without a Lambda deadline", []],
    ["in a Lambda invocation with a 30 s timeout", ["--lambda-timeout-ms", "30000"]],
  ])("%s: every case passes", { timeout: 300_000 }, async (_name, serverArgs) => {
    const result = await runSuite(runner, serverArgs);
    expect(result.failed, result.output).toBe(0);
    expect(result.exitCode, result.output).toBe(0);
    // Unary and server-streaming cases of gRPC-web with proto: a run that found none tested nothing.
    expect(result.total).toBeGreaterThan(0);
    expect(result.passed).toBe(result.total);
  });
});
