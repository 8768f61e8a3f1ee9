/**
 * LocalStack for tests and `npm run dev -- --localstack`, picked in this order:
 *   1. LOCALSTACK_ENDPOINT: used as is, nothing is started;
 *   2. (Docker answers) the caller starts a container: see tests/e2e/localstack.test.ts;
 *   3. host mode: localstack-core from PyPI with Python 3.13, run as a process on this machine,
 *      its Lambdas run by our node-process executor (localstack/executor) as host Node processes.
 *
 * Host mode installs once into .cache/localstack/ (a venv with the pinned requirements in
 * localstack/host/requirements.txt and the executor), reinstalling when either changes.
 * Python 3.13 comes from LOCALSTACK_PYTHON, else pyenv (`pyenv prefix 3.13`), else python3.13 on
 * PATH. Each start gets its own port, file system root and temp dir, runs localstack/init's
 * scripts, and is stopped with its whole process group.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "./offline.ts";
import { freePort } from "./ports.ts";
import { signalGroup, spawnGroupWatchdog } from "./process-group.ts";

const execFileAsync = promisify(execFile);

const LOCALSTACK_DIR = join(PROJECT_ROOT, "localstack");
const REQUIREMENTS = join(LOCALSTACK_DIR, "host", "requirements.txt");
const EXECUTOR_DIR = join(LOCALSTACK_DIR, "executor");
const INIT_DIR = join(LOCALSTACK_DIR, "init");
const CACHE_DIR = join(PROJECT_ROOT, ".cache", "localstack");
const VENV = join(CACHE_DIR, "venv");
const INSTALLED_MARKER = join(VENV, ".payment-ledger-installed");
const INSTALL_LOCK = join(CACHE_DIR, "install.lock");

const PYTHON_VERSION = "3.13";
const INSTALL_TIMEOUT_MS = 15 * 60_000;
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

/** Python 3.13: LOCALSTACK_PYTHON, else pyenv's newest 3.13, else python3.13 on PATH. */
async function findPython(): Promise<string> {
  const candidates: string[] = [];
  if (process.env.LOCALSTACK_PYTHON) candidates.push(process.env.LOCALSTACK_PYTHON);
  try {
    const { stdout } = await execFileAsync("pyenv", ["prefix", PYTHON_VERSION]);
    const prefix = stdout.trim().split("\n")[0];
    if (prefix) candidates.push(join(prefix, "bin", "python"));
  } catch {
    // No pyenv, or no 3.13 in it.
  }
  candidates.push(`python${PYTHON_VERSION}`);
  for (const candidate of candidates) {
    try {
      const { stdout } = await execFileAsync(candidate, [
        "-c",
        "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
      ]);
      if (stdout.trim() === PYTHON_VERSION) return candidate;
    } catch {
      // Not there; try the next.
    }
  }
  throw new Error(
    `LocalStack host mode needs Python ${PYTHON_VERSION} (tried ${candidates.join(", ")}); ` +
      "install it (e.g. pyenv install 3.13) or set LOCALSTACK_PYTHON",
  );
}

/** What the venv is built from (Python and the pinned requirements), and the executor's sources. */
async function fingerprints(python: string): Promise<{ requirements: string; executor: string }> {
  const requirements = createHash("sha256")
    .update(python)
    .update(await readFile(REQUIREMENTS))
    .digest("hex");
  const executor = createHash("sha256").update(await readFile(join(EXECUTOR_DIR, "pyproject.toml")));
  const pkg = join(EXECUTOR_DIR, "node_process_executor");
  for (const name of (await readdir(pkg)).filter((file) => /\.(py|mjs)$/.test(file)).sort()) {
    executor.update(name).update(await readFile(join(pkg, name)));
  }
  return { requirements, executor: executor.digest("hex") };
}

async function ensureInstalled(python: string, log: (line: string) => void): Promise<void> {
  const wanted = await fingerprints(python);
  const installed = async () =>
    JSON.parse(await readFile(INSTALLED_MARKER, "utf8").catch(() => "{}")) as Partial<typeof wanted>;
  const upToDate = (have: Partial<typeof wanted>) =>
    have.requirements === wanted.requirements && have.executor === wanted.executor;
  if (upToDate(await installed())) return;
  await mkdir(CACHE_DIR, { recursive: true });
  await withLock(async () => {
    const have = await installed();
    if (upToDate(have)) return;
    const run = (file: string, args: string[]) =>
      execFileAsync(file, args, {
        cwd: PROJECT_ROOT,
        timeout: INSTALL_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
      });
    const pip = join(VENV, "bin", "pip");
    const started = performance.now();
    try {
      if (have.requirements !== wanted.requirements) {
        log(`localstack: installing localstack-core into ${VENV} (a few minutes, once)`);
        await rm(VENV, { recursive: true, force: true });
        await run(python, ["-m", "venv", VENV]);
        // Every version pinned (dependencies included), so nothing newer than the release day comes in.
        await run(pip, ["install", "--quiet", "--no-deps", "--require-virtualenv", "-r", REQUIREMENTS]);
      }
      await run(pip, [
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--force-reinstall",
        EXECUTOR_DIR,
      ]);
    } catch (error) {
      const detail = error as { stderr?: string; message?: string };
      throw new Error(`localstack: install failed: ${detail.stderr || detail.message}`);
    }
    await writeFile(INSTALLED_MARKER, JSON.stringify(wanted));
    log(`localstack: installed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  });
}

/** One installer at a time (parallel test files, a running `npm run dev`); a dead holder's lock is taken over. */
async function withLock(work: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + INSTALL_TIMEOUT_MS;
  for (;;) {
    try {
      await mkdir(INSTALL_LOCK);
      await writeFile(join(INSTALL_LOCK, "pid"), String(process.pid));
      break;
    } catch {
      const holder = Number(await readFile(join(INSTALL_LOCK, "pid"), "utf8").catch(() => "0"));
      const age = Date.now() - (await stat(INSTALL_LOCK).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if ((holder && !alive(holder)) || (!holder && age > 60_000)) {
        await rm(INSTALL_LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`localstack: ${INSTALL_LOCK} held for too long`);
      await sleep(2_000);
    }
  }
  try {
    await work();
  } finally {
    await rm(INSTALL_LOCK, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
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
