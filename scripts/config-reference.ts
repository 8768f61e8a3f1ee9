/**
 * Writes docs/configuration.md from the settings' declarations (lib/config/),
 * so the reference cannot drift from the code: `npm run docs:config` rewrites
 * it, `--check` fails when it is stale (so does tests/unit/config-reference.test.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CONCERNS, type Concern, forwardedByLocalStage, isFunction } from "../lib/config/catalogue.ts";
import { FUNCTION_NAMES, type Setting } from "../lib/config/declare.ts";

const OUTPUT = fileURLToPath(new URL("../docs/configuration.md", import.meta.url));

const UNITS: [suffix: string, unitMs: number][] = [
  ["_MS", 1],
  ["_SECONDS", 1000],
];
const SPANS: [label: string, ms: number][] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["min", 60_000],
  ["s", 1000],
];

/** 300000 for a *_MS setting reads "300000 (5 min)"; 1048576 for a *_BYTES one "1048576 (1 MiB)". */
function readable(name: string, value: number): string {
  if (name.endsWith("_BYTES") && value >= 1_048_576 && value % 1_048_576 === 0) {
    return `${value} (${value / 1_048_576} MiB)`;
  }
  const unitMs = UNITS.find(([suffix]) => name.endsWith(suffix))?.[1];
  if (unitMs === undefined) return String(value);
  const ms = value * unitMs;
  const span = SPANS.find(([, size]) => ms >= 60_000 && ms % size === 0);
  return span ? `${value} (${ms / span[1]} ${span[0]})` : String(value);
}

export function defaultText(setting: Setting<unknown>): string {
  if (setting.defaultText !== undefined) return setting.defaultText;
  const value = setting.default;
  if (value === undefined || value === null) return "none";
  if (typeof value === "function") throw new Error(`${setting.name}: a derived default needs a defaultText`);
  const text = setting.parser.format(value);
  if (typeof value === "number" && /^\d+$/.test(text)) return readable(setting.name, value);
  return text === "" ? "empty" : text;
}

function readers(setting: Setting<unknown>): string {
  const everyFunction = FUNCTION_NAMES.every((name) => setting.readBy.includes(name));
  const names = [
    ...(everyFunction ? ["every function"] : setting.readBy.filter(isFunction)),
    ...setting.readBy.filter((reader) => !isFunction(reader)).map((reader) => `(${reader})`),
  ].join(", ");
  return setting.readByLibrary ? `${names} — through ${setting.readByLibrary}` : names;
}

function localStage(setting: Setting<unknown>): string {
  if (forwardedByLocalStage(setting)) return "from the shell";
  if (setting.setBy) return `set by ${setting.setBy}`;
  return "—";
}

function what(setting: Setting<unknown>): string {
  const needs = setting.needs ? ` Needs ${setting.needs.name}.` : "";
  return `${setting.doc}${needs}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** A Markdown table with padded columns, as the repository's formatter writes them. */
function markdownTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

function section(concern: Concern): string[] {
  const rows = concern.settings.map((s) =>
    [`\`${s.name}\``, defaultText(s), s.parser.type, readers(s), localStage(s), what(s)].map(cell),
  );
  return [
    `## ${concern.title}`,
    "",
    ...markdownTable(["variable", "default", "values", "read by", "local stage", "what"], rows),
    "",
  ];
}

export function renderReference(concerns: readonly Concern[] = CONCERNS): string {
  return [
    "# Configuration reference",
    "",
    "<!-- Generated from the declarations in lib/config/ by `npm run docs:config`; do not edit by hand. -->",
    "",
    "Every setting is an environment variable, declared once in `lib/config/` and read once per",
    "container; unset or empty means its default, and a malformed value fails at start-up with the",
    "variable's name.",
    "",
    "- **read by**: the functions that read it when their container starts; `(scripts)` are the",
    "  command-line tools and local servers (scripts/, web/dev/), `(serverless.ts)` the framework",
    "  while it builds a template.",
    "- **local stage**: whether the local stage (serverless offline, LocalStack) forwards it from",
    "  the shell, or who sets it instead. dev and prod set theirs in `infra/stages.ts`.",
    "",
    ...concerns.flatMap(section),
  ].join("\n");
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const rendered = renderReference();
  if (process.argv.includes("--check")) {
    if (readFileSync(OUTPUT, "utf8") !== rendered) {
      console.error("config-reference: docs/configuration.md is stale; run npm run docs:config");
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT, rendered);
    const count = CONCERNS.reduce((sum, concern) => sum + concern.settings.length, 0);
    console.log(`config-reference: wrote docs/configuration.md (${count} settings)`);
  }
}
