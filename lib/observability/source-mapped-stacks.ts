/**
 * Stack traces that point at the TypeScript sources, without a cold-start
 * cost. Node's --enable-source-maps reads and indexes every bundle's source
 * map while the bundle loads (~20 ms of the api's init, BENCHMARKS.md), in
 * every container, though most never format a stack. This formatter reads a
 * bundle's map the first time a stack with a frame in that bundle is
 * formatted, with Node's own parser (node:module SourceMap), and writes frames
 * the way Node does with the flag.
 *
 * Importing this module installs it, so a function's entry point imports it
 * first: ESM evaluates imports in order, so errors thrown while the rest of
 * the bundle initialises are mapped too.
 */
import { readFileSync } from "node:fs";
import { SourceMap, type SourceMapPayload, type SourceOrigin } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

// esbuild's linked map: the last line of the bundle names the map file.
const MAPPING_COMMENT = /\/\/# sourceMappingURL=(\S+)\s*$/;
const TAIL_CHARS = 1024;

/** Per generated file: its map, or undefined when it has none (node_modules, node:, eval). */
const maps = new Map<string, SourceMap | undefined>();

function sourceMapOf(fileName: string): SourceMap | undefined {
  if (maps.has(fileName)) return maps.get(fileName);
  // Set first: an error raised while loading must not load again when its own stack is formatted.
  maps.set(fileName, undefined);
  try {
    maps.set(fileName, loadSourceMap(fileName));
  } catch {
    // Unreadable or malformed map: the frame keeps its generated position.
  }
  return maps.get(fileName);
}

function loadSourceMap(fileName: string): SourceMap | undefined {
  if (fileName.startsWith("node:") || fileName.includes("/node_modules/")) return undefined;
  const fileUrl = fileName.startsWith("file:") ? new URL(fileName) : pathToFileURL(fileName);
  const text = readFileSync(fileUrl, "utf8");
  const reference = MAPPING_COMMENT.exec(text.slice(-TAIL_CHARS))?.[1];
  if (reference === undefined || reference.startsWith("data:")) return undefined;
  const mapUrl = new URL(reference, fileUrl);
  const payload = JSON.parse(readFileSync(mapUrl, "utf8")) as SourceMapPayload;
  // Sources are relative to the map; print them as paths, as Node does.
  payload.sources = payload.sources.map((source) => fileURLToPath(new URL(source, mapUrl)));
  return new SourceMap(payload);
}

function isMapped(site: NodeJS.CallSite): boolean {
  const fileName = site.getFileName();
  return fileName !== undefined && fileName !== null && sourceMapOf(fileName) !== undefined;
}

function header(error: unknown): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return "Error";
  }
}

function found(origin: SourceOrigin | object): origin is SourceOrigin {
  return "fileName" in origin;
}

/** The source name of the function a frame is in: where it is declared, else where its caller names it. */
function originalName(
  map: SourceMap,
  site: NodeJS.CallSite,
  caller: NodeJS.CallSite | undefined,
): string | undefined {
  const line = site.getEnclosingLineNumber();
  const column = site.getEnclosingColumnNumber();
  const declared = line !== null && column !== null ? map.findOrigin(line, column) : {};
  if (found(declared) && declared.name) return declared.name;
  const callerLine = caller?.getLineNumber();
  const callerColumn = caller?.getColumnNumber();
  if (caller?.getFileName() !== site.getFileName() || callerLine == null || callerColumn == null)
    return undefined;
  const call = map.findOrigin(callerLine, callerColumn);
  return found(call) && call.name ? call.name : undefined;
}

function formatFrame(site: NodeJS.CallSite, caller: NodeJS.CallSite | undefined): string {
  const fileName = site.getFileName();
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  if (!fileName || line === null || column === null) return String(site);
  const map = sourceMapOf(fileName);
  const origin = map ? map.findOrigin(line, column) : {};
  if (!map || !found(origin)) return String(site);
  const typeName = site.getTypeName();
  const functionName = site.getFunctionName() ?? site.getMethodName();
  const generatedName =
    functionName || typeName
      ? `${typeName && typeName !== "global" ? `${typeName}.` : ""}${functionName ?? "<anonymous>"}`
      : "";
  const name = originalName(map, site, caller) ?? generatedName;
  const async = site.isAsync() ? "async " : "";
  const location = `${origin.fileName}:${origin.lineNumber}:${origin.columnNumber}`;
  return name ? `${async}${name} (${location})` : `${async}${location}`;
}

function formatStack(error: unknown, sites: NodeJS.CallSite[]): string {
  let stack = header(error);
  for (const [index, site] of sites.entries()) {
    let frame: string;
    try {
      frame = formatFrame(site, sites[index + 1]);
    } catch {
      frame = String(site);
    }
    stack += `\n    at ${frame}`;
  }
  return stack;
}

/**
 * Installs the formatter in front of the one in place (Node's own, or a test
 * runner's, which knows its in-memory sources): stacks with no frame in a
 * mapped bundle go to that one unchanged. Nothing to do when Node maps
 * stacks itself (--enable-source-maps).
 */
export function installSourceMappedStacks(): void {
  if (process.sourceMapsEnabled) return;
  // Node 24 always has one (its own ErrorPrepareStackTrace); older ones leave it unset.
  const previous = Error.prepareStackTrace as typeof Error.prepareStackTrace | undefined;
  Error.prepareStackTrace = (error, sites) =>
    previous && !sites.some(isMapped) ? previous(error, sites) : formatStack(error, sites);
}

installSourceMappedStacks();
