/**
 * Installs host-mode LocalStack once into .cache/localstack/: a venv with the pinned
 * requirements in localstack/host/requirements.txt and our node-process executor
 * (localstack/executor), reinstalled when either changes. Python 3.13 comes from
 * LOCALSTACK_PYTHON, else pyenv (`pyenv prefix 3.13`), else python3.13 on PATH. One installer
 * at a time, across processes (parallel test files, a running `npm run dev`).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "./offline.ts";

const execFileAsync = promisify(execFile);

const LOCALSTACK_DIR = join(PROJECT_ROOT, "localstack");
const REQUIREMENTS = join(LOCALSTACK_DIR, "host", "requirements.txt");
const EXECUTOR_DIR = join(LOCALSTACK_DIR, "executor");
const CACHE_DIR = join(PROJECT_ROOT, ".cache", "localstack");
/** The virtualenv LocalStack runs from. */
export const VENV = join(CACHE_DIR, "venv");
const INSTALLED_MARKER = join(VENV, ".payment-ledger-installed");
const INSTALL_LOCK = join(CACHE_DIR, "install.lock");

const PYTHON_VERSION = "3.13";
const INSTALL_TIMEOUT_MS = 15 * 60_000;

/** Python 3.13: LOCALSTACK_PYTHON, else pyenv's newest 3.13, else python3.13 on PATH. */
export async function findPython(): Promise<string> {
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

export async function ensureInstalled(python: string, log: (line: string) => void): Promise<void> {
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
    // The venv's own interpreter, not bin/pip: pip's script names the interpreter of the path the
    // venv was made at, so a venv copied from another checkout would install into that one.
    const pip = (args: string[]) => run(join(VENV, "bin", "python"), ["-m", "pip", ...args]);
    const started = performance.now();
    try {
      if (have.requirements !== wanted.requirements) {
        log(`localstack: installing localstack-core into ${VENV} (a few minutes, once)`);
        await rm(VENV, { recursive: true, force: true });
        await run(python, ["-m", "venv", VENV]);
        // Every version pinned (dependencies included), so nothing newer than the release day comes in.
        await pip(["install", "--quiet", "--no-deps", "--require-virtualenv", "-r", REQUIREMENTS]);
      }
      await pip([
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
