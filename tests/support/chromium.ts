/**
 * The machine's Chromium (Debian's `chromium` package in CI), driven through
 * playwright-core: no browser download. Found by CHROMIUM_PATH or on PATH,
 * and probed with a real launch, so a test can skip with the reason instead
 * of failing half-way or passing without a browser.
 */
import { access, constants } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { type Browser, chromium } from "playwright-core";

const NAMES = ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"];

export type ChromiumProbe =
  | { ok: true; executablePath: string; version: string }
  | { ok: false; reason: string };

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function findExecutable(): Promise<string | undefined> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return (await executable(fromEnv)) ? fromEnv : undefined;
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const name of NAMES)
    for (const dir of dirs) if (await executable(join(dir, name))) return join(dir, name);
  return undefined;
}

export async function probeChromium(): Promise<ChromiumProbe> {
  const executablePath = await findExecutable();
  if (!executablePath)
    return {
      ok: false,
      reason: process.env.CHROMIUM_PATH
        ? `CHROMIUM_PATH=${process.env.CHROMIUM_PATH} is not an executable`
        : `no Chromium on PATH (looked for ${NAMES.join(", ")}); install Debian's chromium package or set CHROMIUM_PATH`,
    };
  let browser: Browser | undefined;
  try {
    browser = await launchChromium(executablePath);
    return { ok: true, executablePath, version: browser.version() };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { ok: false, reason: `${executablePath} does not launch: ${message}` };
  } finally {
    await browser?.close();
  }
}

export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, timeout: 30_000 });
}
