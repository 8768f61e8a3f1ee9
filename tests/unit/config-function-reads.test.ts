/**
 * Which settings each function reads, as declared (readBy in lib/config/),
 * is what its handler really reads when its container starts: each handler
 * is imported under a process.env that records the variables our code
 * (not a library's) reads, once with nothing set and once with every
 * setting set (so reads that depend on another setting, such as a secret's
 * cache TTL or the X-Ray settings, happen too).
 */
import { describe, expect, it, vi } from "vitest";
import { SETTINGS } from "../../lib/config/catalogue.ts";
import { FUNCTION_NAMES, type FunctionName } from "../../lib/config/declare.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

const HANDLERS: Record<FunctionName, () => Promise<unknown>> = {
  api: () => import("../../functions/api/handler.ts"),
  drainOutbox: () => import("../../functions/drain-outbox/handler.ts"),
  deadLetter: () => import("../../functions/dead-letter/handler.ts"),
  maintenance: () => import("../../functions/maintenance/handler.ts"),
  migrate: () => import("../../functions/migrate/handler.ts"),
};

const declared = new Set(SETTINGS.map((s) => s.name));
const EVERY_SETTING = Object.fromEntries(SETTINGS.map((s) => [s.name, s.parser.example]));

/** The file of the code that read the variable: the trap's caller. */
function readerFile(): string {
  const original = Error.prepareStackTrace;
  Error.prepareStackTrace = (_error, frames) => frames;
  try {
    // [0] readerFile, [1] the proxy's get trap, [2] whoever read the variable.
    const frames = new Error().stack as unknown as NodeJS.CallSite[];
    return (frames[2]?.getFileName() ?? "").replace(/^file:\/\//, "");
  } finally {
    Error.prepareStackTrace = original;
  }
}

const ours = (file: string) => file.startsWith(ROOT) && !file.includes("/node_modules/");

/** The variables our code reads while `fn`'s handler module loads with `values` as its environment. */
async function readsAtStart(fn: FunctionName, values: Record<string, string>): Promise<Set<string>> {
  const real = process.env;
  // The runner's own variables stay (vitest reads some), but no setting leaks in from the shell.
  const base = Object.fromEntries(Object.entries(real).filter(([name]) => !declared.has(name)));
  const names = new Set<string>();
  process.env = new Proxy(
    { ...base, ...values },
    {
      get(target, key) {
        if (typeof key === "string" && ours(readerFile())) names.add(key);
        return (target as Record<string, unknown>)[key as string];
      },
    },
  ) as NodeJS.ProcessEnv;
  vi.resetModules();
  try {
    await HANDLERS[fn]();
  } finally {
    process.env = real;
  }
  return names;
}

describe("the settings each function reads at start-up", () => {
  it.each(FUNCTION_NAMES)("%s: exactly those whose declaration names it", async (fn) => {
    // SILENT: with nothing set the api warns about its local secrets (read by Powertools, not by our code).
    const nothingSet = { POWERTOOLS_LOG_LEVEL: "SILENT" };
    const read = new Set([
      ...(await readsAtStart(fn, nothingSet)),
      ...(await readsAtStart(fn, EVERY_SETTING)),
    ]);
    const expected = SETTINGS.filter((s) => !s.readByLibrary && s.readBy.includes(fn)).map((s) => s.name);
    expect([...read].filter((name) => declared.has(name)).sort()).toEqual(expected.sort());
    expect([...read].filter((name) => !declared.has(name))).toEqual([]);
  });
});
