/**
 * `serverless offline` as a child process: the stack's real Lambda bundles
 * behind its HTTP API emulation and its Lambda Invoke API. Used by the e2e
 * tests and by `npm run dev`.
 */
import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { signalGroup, spawnGroupWatchdog } from "./process-group.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVERLESS_BIN = join(PROJECT_ROOT, "node_modules", "serverless", "bin", "serverless.js");

const READY_TIMEOUT_MS = 180_000;
const SHUTDOWN_GRACE_MS = 10_000;
const DIED_OUTPUT_LINES = 20;

// Reads a pipe only this Node process writes to: when Node dies, even by
// SIGKILL, the read ends and the offline process group is stopped, so no
// orphan keeps the ports.
/** Credentials nothing checks: the AWS SDK needs some to sign requests to offline's Lambda API. */
export const DUMMY_AWS_ENV = {
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  AWS_REGION: "us-east-1",
} as const;

export interface OfflineOptions {
  httpPort: number;
  lambdaPort: number;
  /** Settings for the functions (DATABASE_URL, KAFKA_BROKERS, ...), on top of this process's env. */
  env?: Record<string, string>;
  /** esbuild work folder, relative to the project; separate runs need separate folders. */
  workFolder?: string;
  /** Each line the framework prints. */
  onLine?: (line: string) => void;
}

export interface OfflineHandle {
  /** Where the HTTP API is served, e.g. http://127.0.0.1:3000 */
  httpUrl: string;
  /** The Lambda Invoke API endpoint for @aws-sdk/client-lambda. */
  lambdaEndpoint: string;
  /** Everything printed so far (for failure messages). */
  output(): string;
  /** Stops the whole process group (framework, esbuild, Lambda workers); safe to call twice. */
  stop(): Promise<void>;
  /** Resolves, with the exit code or signal and the last lines printed, if it exits without stop(). */
  died: Promise<string>;
}

export async function startOffline(options: OfflineOptions): Promise<OfflineHandle> {
  const lambdaEndpoint = `http://127.0.0.1:${options.lambdaPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...DUMMY_AWS_ENV,
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
    LAMBDA_ENDPOINT: lambdaEndpoint,
    ...(options.workFolder && { ESBUILD_WORK_FOLDER: options.workFolder }),
    ...options.env,
  };
  const args = [
    SERVERLESS_BIN,
    "offline",
    "--stage",
    "local",
    "--host",
    "127.0.0.1",
    "--httpPort",
    String(options.httpPort),
    "--lambdaPort",
    String(options.lambdaPort),
  ];
  // Its own process group, so stop() reaches esbuild and the Lambda workers too.
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env, detached: true, stdio: "pipe" });
  const watchdog =
    child.pid === undefined ? undefined : spawnGroupWatchdog(child.pid, "offline-watchdog", "INT", 5);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stopRequested = false;
  const died = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => {
      if (stopRequested) return;
      const lastLines = output.trimEnd().split("\n").slice(-DIED_OUTPUT_LINES).join("\n");
      resolve(`exited with ${signal ?? `code ${code}`}; last output:\n${lastLines}`);
    }),
  );

  let output = "";
  let ready = false;
  const readyPromise = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output += text;
      for (const line of text.split("\n")) if (line.trim()) options.onLine?.(line);
      if (!ready && output.includes("Server ready:")) {
        ready = true;
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code, signal) =>
      reject(new Error(`serverless offline exited (${signal ?? code}) before it was ready:\n${output}`)),
    );
    child.once("error", reject);
  });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopRequested = true;
    stopping ??= (async () => {
      if (watchdog) {
        watchdog.kill("SIGKILL");
        watchdog.stdin?.destroy();
      }
      signalGroup(child.pid, "SIGINT");
      const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), SHUTDOWN_GRACE_MS);
      await exited;
      clearTimeout(timer);
      // Whatever outlived the framework in its group (esbuild's service process).
      signalGroup(child.pid, "SIGKILL");
      if (options.workFolder)
        await rm(join(PROJECT_ROOT, options.workFolder), { recursive: true, force: true });
    })();
    return stopping;
  };

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`serverless offline not ready after ${READY_TIMEOUT_MS / 1000} s:\n${output}`)),
      READY_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([readyPromise, timeout]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    httpUrl: `http://127.0.0.1:${options.httpPort}`,
    lambdaEndpoint,
    output: () => output,
    stop,
    died,
  };
}
