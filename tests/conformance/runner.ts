/**
 * The Connect conformance runner (connectrpc/conformance), built from source
 * with `go install` into .cache/go-bin: no prebuilt binary is downloaded.
 * The version pinned here is also the one the vendored protos (proto/) come
 * from. CI installs it up front (`node --import tsx tests/conformance/runner.ts`);
 * the test installs it itself when it is missing.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const CONFORMANCE_VERSION = "v1.0.7";
// The go directive of that version's go.mod: older toolchains cannot build it.
const MIN_GO = [1, 26] as const;
const MODULE = "connectrpc.com/conformance/cmd/connectconformance";
const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN_DIR = join(PROJECT_ROOT, ".cache", "go-bin");
export const RUNNER_PATH = join(BIN_DIR, "connectconformance");

/** Go's version line, or why there is no Go that can build the runner. */
export async function probeGo(): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  try {
    const { stdout } = await run("go", ["version"], { timeout: 30_000 });
    const version = stdout.trim();
    const [major = 0, minor = 0] = (/\bgo(\d+)\.(\d+)/.exec(version)?.slice(1) ?? []).map(Number);
    if (major < MIN_GO[0] || (major === MIN_GO[0] && minor < MIN_GO[1])) {
      return {
        ok: false,
        reason: `${version}: the conformance runner needs Go ${MIN_GO.join(".")} or later`,
      };
    }
    return { ok: true, version };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return {
      ok: false,
      reason:
        code === "ENOENT"
          ? "Go is not installed: the conformance runner is built with `go install`"
          : `\`go version\` failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** The runner's path, installed at the pinned version (built once, then reused). */
export async function installRunner(): Promise<string> {
  if ((await installedVersion()) === CONFORMANCE_VERSION) return RUNNER_PATH;
  await run("go", ["install", `${MODULE}@${CONFORMANCE_VERSION}`], {
    timeout: 15 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
    // The machine's toolchain, never one downloaded because a go.mod asks for it.
    env: { ...process.env, GOBIN: BIN_DIR, GOTOOLCHAIN: "local" },
  });
  const installed = await installedVersion();
  if (installed !== CONFORMANCE_VERSION) {
    throw new Error(
      `go install left ${installed ?? "no runner"} at ${RUNNER_PATH}, not ${CONFORMANCE_VERSION}`,
    );
  }
  return RUNNER_PATH;
}

async function installedVersion(): Promise<string | undefined> {
  if (!existsSync(RUNNER_PATH)) return undefined;
  try {
    const { stdout } = await run(RUNNER_PATH, ["--version"], { timeout: 30_000 });
    return stdout.trim().split(/\s+/).at(-1);
  } catch {
    return undefined;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const go = await probeGo();
  if (go.ok)
    console.log(`conformance runner: ${await installRunner()} (${CONFORMANCE_VERSION}, ${go.version})`);
  else console.log(`conformance runner not installed: ${go.reason}`);
}
