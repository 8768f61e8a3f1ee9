/**
 * Protobuf descriptors decoded at build time instead of at every cold start.
 *
 * Generated protobuf-es code (ours in lib/gen, and the *_pb.js files of the
 * libraries, such as Connect's google.rpc.Status) embeds each .proto file as
 * a base64 FileDescriptorProto and hydrates it at load with `fileDesc()`:
 * that decodes the bytes with the FileDescriptorProto schema, which first
 * boots all of google/protobuf/descriptor.proto. In the api that is about a
 * fifth of the module init (BENCHMARKS.md, cold start).
 *
 * This esbuild plugin decodes each embedded descriptor while bundling and
 * writes the decoded message into the bundle as an object literal, the same
 * objects `fromBinary` would build (own fields, and the defaults on a shared
 * prototype where protobuf-es tracks field presence that way). At load only
 * the registry is built from it (descriptor-snapshot-file.ts, with
 * protobuf-es's public `createFileRegistry`). Nothing then imports descriptor.proto, so it leaves
 * the bundle too.
 *
 * Sources and tests are untouched: this changes how the bundle hydrates the
 * same descriptors (tests/unit/descriptor-snapshots.test.ts compares them).
 */
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary, isFieldSet } from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import { base64Decode } from "@bufbuild/protobuf/wire";
import {
  type DescriptorProto,
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import type { Plugin } from "esbuild";

// The import the rewritten files get, resolved to descriptor-snapshot-file.ts.
const RUNTIME_MODULE = "descriptor-snapshot-file";
const RUNTIME_PATH = fileURLToPath(new URL("./descriptor-snapshot-file.ts", import.meta.url));
// What protoc-gen-es emits: fileDesc("<base64>" or fileDesc("<base64>", [imports]).
const FILE_DESC_CALL = /\bfileDesc\(\s*"([A-Za-z0-9+/=]+)"/g;

/**
 * A JavaScript expression that evaluates to the FileDescriptorProto that
 * `fileDesc(base64)` would decode (json names restored, as fileDesc does).
 */
export function fileDescriptorLiteral(base64: string): string {
  const root = fromBinary(FileDescriptorProtoSchema, base64Decode(base64));
  for (const message of root.messageType) restoreJsonNames(message);
  const prototypes: Prototypes = new Map();
  const literal = objectLiteral(root, prototypes);
  const consts = [...prototypes.values()].map(({ name, code }) => `${name} = ${code}`);
  const helper = "m = (p, o) => Object.assign(Object.create(p), o)";
  return `(() => { const ${[...consts, helper].join(", ")}; return ${literal}; })()`;
}

/** `source` with every embedded descriptor replaced by its snapshot; undefined when it has none. */
export function snapshotDescriptors(source: string): string | undefined {
  let found = false;
  const replaced = source.replace(FILE_DESC_CALL, (_call, base64: string) => {
    found = true;
    return `__snapshotFile(${fileDescriptorLiteral(base64)}`;
  });
  if (!found) return undefined;
  return `import { snapshotFile as __snapshotFile } from "${RUNTIME_MODULE}";\n${replaced}`;
}

/** The esbuild plugin (infra/esbuild.ts). */
export function descriptorSnapshots(): Plugin {
  return {
    name: "descriptor-snapshots",
    setup(build) {
      build.onResolve({ filter: new RegExp(`^${RUNTIME_MODULE}$`) }, () => ({
        path: RUNTIME_PATH,
        namespace: "file",
      }));
      // protobuf-es names generated files *_pb; only they call fileDesc().
      build.onLoad({ filter: /_pb\.(ts|js|mjs)$/ }, async (args) => {
        const source = await readFile(args.path, "utf8");
        const contents = snapshotDescriptors(source);
        if (contents === undefined) return undefined;
        return { contents, loader: args.path.endsWith(".ts") ? "ts" : "js", resolveDir: dirname(args.path) };
      });
    },
  };
}

/** fileDesc() restores the json names protoc-gen-es strips when they equal the default. */
function restoreJsonNames(message: DescriptorProto): void {
  for (const field of message.field) {
    if (!isFieldSet(field, FieldDescriptorProtoSchema.field.jsonName)) {
      field.jsonName = protoCamelCase(field.name);
    }
  }
  for (const nested of message.nestedType) restoreJsonNames(nested);
}

/** The shared prototypes met so far: their constant's name and literal. */
type Prototypes = Map<object, { name: string; code: string }>;

/** Own properties as a literal; a prototype other than Object's becomes a shared constant. */
function objectLiteral(value: object, prototypes: Prototypes): string {
  const own = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => `${JSON.stringify(key)}: ${valueLiteral(v, prototypes)}`)
    .join(", ");
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype === Object.prototype) return `{${own}}`;
  if (prototype === null) throw new Error("descriptor snapshot: unexpected null-prototype object");
  let name = prototypes.get(prototype)?.name;
  if (name === undefined) {
    name = `p${prototypes.size}`;
    prototypes.set(prototype, { name, code: objectLiteral(prototype, prototypes) });
  }
  return `m(${name}, {${own}})`;
}

function valueLiteral(value: unknown, prototypes: Prototypes): string {
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : `Number(${JSON.stringify(String(value))})`;
    case "bigint":
      return `${value}n`;
    case "object":
      if (value === null) return "null";
      if (value instanceof Uint8Array) return `new Uint8Array([${value.join(",")}])`;
      if (Array.isArray(value)) return `[${value.map((v) => valueLiteral(v, prototypes)).join(", ")}]`;
      return objectLiteral(value, prototypes);
    default:
      throw new Error(`descriptor snapshot: cannot write a ${typeof value}`);
  }
}
