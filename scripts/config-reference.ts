/**
 * Writes docs/configuration.md from the doc comments of lib/config.ts, so the
 * reference cannot drift from the code: `npm run docs:config` rewrites it,
 * `--check` (run by the unit tests) fails when it is stale or when a setting
 * is read without a documented default.
 *
 * A documented setting is a doc comment that starts with its variable name(s)
 * and its default: `/** NAME, default VALUE: what it does. *\/` (several names
 * may share one comment: `A / B, default …` or `A, default x; B, default y`).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CONFIG = fileURLToPath(new URL("../lib/config.ts", import.meta.url));
const OUTPUT = fileURLToPath(new URL("../docs/configuration.md", import.meta.url));

export interface Setting {
  names: string[];
  default: string;
  what: string;
}

const NAME = /^[A-Z][A-Z0-9_]+$/;

/** Every `/** … *\/` comment that documents a setting, in file order. */
export function documentedSettings(source: string): Setting[] {
  const settings: Setting[] = [];
  for (const match of source.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const text = (match[1] ?? "")
      .split("\n")
      .map((line) => line.replace(/^\s*\*\s?/, "").trim())
      .join(" ")
      .replace(/\s+/g, " ")
      .trim();
    // "A, default x; B, default y" documents two settings in one comment.
    for (const part of text.split(/;\s+(?=[A-Z][A-Z0-9_]+, default)/)) {
      const head = /^([A-Z][A-Z0-9_]+(?:\s*\/\s*[A-Z][A-Z0-9_]+)*), default (.*)$/.exec(part);
      if (!head) continue;
      const names = (head[1] ?? "").split("/").map((n) => n.trim());
      if (!names.every((n) => NAME.test(n))) continue;
      const rest = head[2] ?? "";
      // The default ends at the first ": " (or the end): "5000: fail fast" / "5000."
      const colon = rest.indexOf(": ");
      const value = (colon === -1 ? rest : rest.slice(0, colon)).replace(/\.$/, "").trim();
      const what = colon === -1 ? "" : rest.slice(colon + 2).trim();
      settings.push({ names, default: value, what });
    }
  }
  return settings;
}

/** Every variable name read through readString/readInt/readBool/readList. */
export function readSettings(source: string): string[] {
  const names = new Set<string>();
  for (const match of source.matchAll(/read(?:String|Int|Bool|List)\(\s*env,\s*"([A-Z0-9_]+)"/g)) {
    if (match[1]) names.add(match[1]);
  }
  return [...names].sort();
}

export function undocumented(source: string): string[] {
  const documented = new Set(documentedSettings(source).flatMap((s) => s.names));
  return readSettings(source).filter((name) => !documented.has(name));
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

export function renderReference(source: string): string {
  const rows = documentedSettings(source).map((s) => [
    s.names.map((n) => `\`${n}\``).join(" / "),
    cell(s.default),
    cell(s.what || "—"),
  ]);
  return [
    "# Configuration reference",
    "",
    "<!-- Generated from the doc comments of lib/config.ts by `npm run docs:config`; do not edit by hand. -->",
    "",
    "Every setting is an environment variable, read once per container by",
    "`lib/config.ts`; a malformed value fails at start-up with the variable's name.",
    "",
    ...markdownTable(["variable", "default", "what"], rows),
    "",
  ].join("\n");
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const source = readFileSync(CONFIG, "utf8");
  const missing = undocumented(source);
  if (missing.length > 0) {
    console.error(`config-reference: settings read without a documented default: ${missing.join(", ")}`);
    process.exit(1);
  }
  const rendered = renderReference(source);
  if (process.argv.includes("--check")) {
    const current = readFileSync(OUTPUT, "utf8");
    if (current !== rendered) {
      console.error("config-reference: docs/configuration.md is stale; run npm run docs:config");
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT, rendered);
    console.log(`config-reference: wrote docs/configuration.md (${documentedSettings(source).length} rows)`);
  }
}
