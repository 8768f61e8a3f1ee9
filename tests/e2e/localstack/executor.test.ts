/**
 * The node-process executor (localstack/executor), which runs host-mode LocalStack's Lambda
 * functions as Node processes on this machine: a probe function created directly (no deploy),
 * in the run's one LocalStack (tests/support/localstack-global-setup.ts).
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateFunctionCommand, InvokeCommand, waitUntilFunctionActiveV2 } from "@aws-sdk/client-lambda";
import JSZip from "jszip";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStackSession, openLocalStack, STACK_WAIT_MS } from "../../support/localstack-session.ts";
import { localStackAvailability } from "../../support/localstack-stack.ts";

const availability = await localStackAvailability();
const hostMode = availability.kind === "host";
if (!hostMode)
  console.log(
    `LocalStack executor e2e skipped: it tests host mode's executor (${availability.kind ? `LocalStack here: ${availability.kind}` : availability.reason})`,
  );

const FUNCTION = `executor-probe-${process.pid}`;
const SOURCE = `
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { LambdaClient } from "@aws-sdk/client-lambda";
if (process.env.FAIL_INIT) throw new Error("init failed on purpose");
export const handler = async (event, context) => {
  console.log("event", JSON.stringify(event));
  if (event.throw) throw new TypeError("handler failed on purpose");
  if (event.exit) process.exit(3);
  if (event.hang) {
    const child = spawn("sleep", ["300"], { stdio: "ignore" });
    writeFileSync(event.hang, String(child.pid));
    await new Promise(() => undefined);
  }
  return {
    cwd: process.cwd(),
    taskRoot: process.env.LAMBDA_TASK_ROOT,
    sdk: typeof LambdaClient,
    remainingMs: context.getRemainingTimeInMillis(),
    extraCaCerts: process.env.NODE_EXTRA_CA_CERTS ?? null,
    leaked: ["GATEWAY_LISTEN", "FILESYSTEM_ROOT", "LAMBDA_RUNTIME_EXECUTOR", "LAMBDA_NODE_SDK_PATH", "LAMBDA_NODE_EXTRA_CA_CERTS"].filter((name) => name in process.env),
  };
};
`;

/** Alive and not a zombie (an orphan's zombie lingers until this machine's init reaps it). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return stat !== "" && state !== "Z" && state !== "X";
}

describe.skipIf(!hostMode)("the node-process executor", () => {
  let session: LocalStackSession;

  beforeAll(async () => {
    session = await openLocalStack([]);
    const zip = new JSZip().file("index.mjs", SOURCE);
    await session.lambda.send(
      new CreateFunctionCommand({
        FunctionName: FUNCTION,
        Runtime: "nodejs24.x",
        Handler: "index.handler",
        Role: "arn:aws:iam::000000000000:role/executor-probe",
        Timeout: 2,
        Code: { ZipFile: await zip.generateAsync({ type: "uint8array" }) },
      }),
    );
    await waitUntilFunctionActiveV2({ client: session.lambda, maxWaitTime: 120 }, { FunctionName: FUNCTION });
  }, STACK_WAIT_MS);

  afterAll(() => session?.close());

  async function call(payload: unknown) {
    const out = await session.lambda.send(
      new InvokeCommand({
        FunctionName: FUNCTION,
        LogType: "Tail",
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
    return {
      error: out.FunctionError,
      body: JSON.parse(new TextDecoder().decode(out.Payload)) as Record<string, unknown>,
      log: Buffer.from(out.LogResult ?? "", "base64").toString("utf8"),
    };
  }

  it("runs the handler in its unpacked code with the runtime's AWS SDK and only the function's environment", async () => {
    const { error, body, log } = await call({ hello: "world" });
    expect(error).toBeUndefined();
    expect(body.cwd).toBe(body.taskRoot);
    expect(body.sdk).toBe("function");
    expect(body.remainingMs).toBeGreaterThan(0);
    expect(body.leaked).toEqual([]);
    expect(log).toMatch(/START RequestId: \S+ Version: \$LATEST/);
    expect(log).toMatch(/\tINFO\tevent \{"hello":"world"\}/);
    expect(log).toMatch(/END RequestId: \S+/);
    expect(log).toMatch(
      /REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB/,
    );
  });

  it("trusts the CAs this machine trusts (LAMBDA_NODE_EXTRA_CA_CERTS), unless the function sets its own", async () => {
    // This run's LocalStack trusts the local broker's CA, as the dev stage's rehearsal needs.
    const machineCa = session.stack.kafkaEnv.KAFKA_SSL_CA_FILE ?? null;
    expect((await call({})).body.extraCaCerts).toBe(machineCa);
    const own = join(await mkdtemp(join(tmpdir(), "executor-probe-ca-")), "ca.pem");
    await writeFile(own, machineCa ? await readFile(machineCa, "utf8") : "");
    await session.setEnvironment(FUNCTION, { NODE_EXTRA_CA_CERTS: own });
    expect((await call({})).body.extraCaCerts).toBe(own);
  });

  it("reports a handler error as the Node.js runtime does", async () => {
    const { error, body } = await call({ throw: true });
    expect(error).toBe("Unhandled");
    expect(body).toMatchObject({ errorType: "TypeError", errorMessage: "handler failed on purpose" });
  });

  it("kills the whole process tree at the timeout and starts a fresh process for the next call", async () => {
    const pidFile = `${await mkdtemp(`${tmpdir()}/executor-probe-`)}/child.pid`;
    const { error, body, log } = await call({ hang: pidFile });
    expect(error).toBe("Unhandled");
    expect(body).toMatchObject({ errorType: "Sandbox.Timedout" });
    expect(log).toMatch(/Task timed out after 2\.00 seconds/);
    expect(log).toMatch(/Status: timeout/);
    const child = Number(await readFile(pidFile, "utf8"));
    expect(await running(child)).toBe(false);
    const next = await call({ after: "timeout" });
    expect(next.error).toBeUndefined();
    expect(next.log).toMatch(/Init Duration: [\d.]+ ms/);
  });

  it("reports a process that exits mid-invocation as Runtime.ExitError", async () => {
    const { error, body } = await call({ exit: true });
    expect(error).toBe("Unhandled");
    expect(body).toMatchObject({ errorType: "Runtime.ExitError" });
    expect((await call({ after: "exit" })).error).toBeUndefined();
  });

  it("reports an init error", async () => {
    await session.setEnvironment(FUNCTION, { FAIL_INIT: "1" });
    const { error, body } = await call({});
    expect(error).toBe("Unhandled");
    expect(body).toMatchObject({ errorMessage: "init failed on purpose" });
  });
});
