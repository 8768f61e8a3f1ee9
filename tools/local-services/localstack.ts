/**
 * LocalStack for tests and `npm run dev -- --localstack`, picked in this order:
 *   1. LOCALSTACK_ENDPOINT: used as is, nothing is started;
 *   2. (Docker answers) the caller starts a container: see tests/support/localstack-docker.ts;
 *   3. host mode: localstack-core from PyPI with Python 3.13, run as a process on this machine,
 *      its Lambdas run by our node-process executor (localstack/executor) as host Node processes.
 *
 * Host mode installs once into .cache/localstack/ (localstack-install.ts). Each start gets its
 * own port, file system root and temp dir, runs localstack/init's scripts, and is stopped with
 * its whole process group.
 */
import { spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ensureInstalled, findPython, VENV } from "./localstack-install.ts";
import { PROJECT_ROOT } from "./offline.ts";
import { freePort } from "./ports.ts";
import { signalGroup, spawnGroupWatchdog } from "./process-group.ts";

const INIT_DIR = join(PROJECT_ROOT, "localstack", "init");

const READY_TIMEOUT_MS = 180_000;
const SHUTDOWN_GRACE_MS = 15_000;

// Reads a pipe only this Node process writes to: when Node dies, even by SIGKILL, the read ends
// and LocalStack's process group is stopped, so no orphan keeps its port.
export interface LocalStackHandle {
  /** The gateway, e.g. http://127.0.0.1:4566 (an IP address, so S3 is addressed path-style). */
  endpoint: string;
  source: "env" | "host";
  /** LocalStack's own output so far (host mode), for failure messages. */
  output(): Promise<string>;
  /** Stops what was started (nothing for "env"); safe to call twice. */
  stop(): Promise<void>;
}

export interface ProvideLocalStackOptions {
  log?: (line: string) => void;
  /** Extra settings for LocalStack (host mode), e.g. LAMBDA_KEEPALIVE_MS. */
  env?: Record<string, string>;
}

/** Why host mode cannot run here, or undefined when it can. */
export async function hostModeUnavailable(): Promise<string | undefined> {
  try {
    await findPython();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export async function provideLocalStack(options: ProvideLocalStackOptions = {}): Promise<LocalStackHandle> {
  const log = options.log ?? ((line: string) => console.error(line));
  const fromEnv = process.env.LOCALSTACK_ENDPOINT?.trim();
  if (fromEnv) {
    log(`localstack: using LOCALSTACK_ENDPOINT=${fromEnv}`);
    return { endpoint: fromEnv, source: "env", output: async () => "", stop: async () => undefined };
  }
  const python = await findPython();
  const installed = performance.now();
  await ensureInstalled(python, log);
  const installSeconds = (performance.now() - installed) / 1000;
  const started = performance.now();
  const handle = await startHost(options.env ?? {});
  log(
    `localstack: host mode on ${handle.endpoint} (install check ${installSeconds.toFixed(1)} s, ` +
      `started in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  return handle;
}

async function startHost(extraEnv: Record<string, string>): Promise<LocalStackHandle> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const runDir = await mkdtemp(join(tmpdir(), "localstack-"));
  const fsRoot = join(runDir, "fs");
  const tmp = join(runDir, "tmp");
  await mkdir(tmp, { recursive: true });
  // LocalStack runs <FILESYSTEM_ROOT>/etc/localstack/init/<stage>.d/* as in its image.
  await cp(INIT_DIR, join(fsRoot, "etc", "localstack", "init"), { recursive: true });
  const logFile = join(runDir, "localstack.log");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? "C.UTF-8",
    // Its Lambdas' code and temp files stay inside this run's directory.
    TMPDIR: tmp,
    FILESYSTEM_ROOT: fsRoot,
    // Some machines have /.dockerenv without being a LocalStack container.
    OVERRIDE_IN_DOCKER: "0",
    // The default (twisted) ignores the host part of GATEWAY_LISTEN; hypercorn binds loopback only.
    GATEWAY_SERVER: "hypercorn",
    GATEWAY_LISTEN: `127.0.0.1:${port}`,
    // No DNS server (it would want port 53), no certificate download, no analytics.
    DNS_ADDRESS: "0",
    SKIP_SSL_CERT_DOWNLOAD: "1",
    DISABLE_EVENTS: "1",
    LAMBDA_RUNTIME_EXECUTOR: "node-process",
    LAMBDA_NODE_BINARY: process.execPath,
    // The @aws-sdk/* packages the Node.js runtime would ship (bundles leave them out).
    LAMBDA_NODE_SDK_PATH: join(PROJECT_ROOT, "node_modules"),
    ...extraEnv,
  };
  const out = createWriteStream(logFile);
  const child = spawn(join(VENV, "bin", "python"), ["-m", "localstack.runtime.main"], {
    cwd: runDir,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const watchdog =
    child.pid === undefined ? undefined : spawnGroupWatchdog(child.pid, "localstack-watchdog", "TERM", 10);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let exitReason: string | undefined;
  child.once("exit", (code, signal) => {
    exitReason = `exited (${signal ?? code})`;
  });
  child.once("error", (error) => {
    exitReason = error.message;
  });
  const output = async () => (existsSync(logFile) ? readFile(logFile, "utf8") : "");

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (watchdog) {
        watchdog.kill("SIGKILL");
        watchdog.stdin?.destroy();
      }
      if (exitReason === undefined) {
        signalGroup(child.pid, "SIGTERM");
        const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), SHUTDOWN_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      signalGroup(child.pid, "SIGKILL");
      out.end();
      await rm(runDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    await waitReady(endpoint, () => exitReason);
  } catch (error) {
    const log = await output();
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${log.slice(-4000)}`);
  }
  return { endpoint, source: "host", output, stop };
}

/** Until the READY stage's init scripts ran; any script in ERROR fails the start. */
async function waitReady(endpoint: string, exitReason: () => string | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const reason = exitReason();
    if (reason) throw new Error(`localstack: ${reason} before it was ready`);
    const status = await fetch(`${endpoint}/_localstack/init`, { signal: AbortSignal.timeout(5_000) })
      .then((response) => (response.ok ? (response.json() as Promise<InitStatus>) : undefined))
      .catch(() => undefined);
    const failed = status?.scripts.filter((script) => script.state === "ERROR") ?? [];
    if (failed.length > 0) {
      throw new Error(
        `localstack: init script failed: ${failed.map((s) => `${s.stage}/${s.name}`).join(", ")}`,
      );
    }
    if (status?.completed.READY) return;
    await sleep(500);
  }
  throw new Error(`localstack: not ready after ${READY_TIMEOUT_MS / 1000} s`);
}

interface InitStatus {
  completed: Record<string, boolean>;
  scripts: { stage: string; name: string; state: string }[];
}

export { PROJECT_ROOT };
