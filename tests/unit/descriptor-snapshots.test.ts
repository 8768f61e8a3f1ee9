import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { create, type DescFile, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { snapshotFile } from "../../infra/descriptor-snapshot-file.ts";
import { fileDescriptorLiteral, snapshotDescriptors } from "../../infra/esbuild-descriptor-snapshots.ts";
import { file_grpc_health_v1_health } from "../../lib/gen/grpc/health/v1/health_pb.ts";
import {
  AuthorizePaymentRequestSchema,
  file_payment_v1_payment,
  LedgerEntrySchema,
} from "../../lib/gen/payment/v1/payment_pb.ts";

const require = createRequire(import.meta.url);
const connectDir = join(require.resolve("@connectrpc/connect"), "..", "..", "esm");
const protobufDir = join(require.resolve("@bufbuild/protobuf"), "..", "..", "esm");

/** Every file a function bundle hydrates with fileDesc(): ours and the libraries'. */
const EMBEDDED: { name: string; path: string; file: () => Promise<DescFile> }[] = [
  {
    name: "payment/v1/payment.proto",
    path: "lib/gen/payment/v1/payment_pb.ts",
    file: async () => file_payment_v1_payment,
  },
  {
    name: "grpc/health/v1/health.proto",
    path: "lib/gen/grpc/health/v1/health_pb.ts",
    file: async () => file_grpc_health_v1_health,
  },
  {
    name: "google/rpc/status.proto (Connect)",
    path: join(connectDir, "protocol-grpc/gen/status_pb.js"),
    file: async () =>
      (await import(join(connectDir, "protocol-grpc/gen/status_pb.js"))).file_status as DescFile,
  },
  {
    name: "google/protobuf/any.proto",
    path: join(protobufDir, "wkt/google/protobuf/any_pb.js"),
    file: async () =>
      (await import(join(protobufDir, "wkt/google/protobuf/any_pb.js"))).file_google_protobuf_any as DescFile,
  },
  {
    name: "google/protobuf/struct.proto",
    path: join(protobufDir, "wkt/google/protobuf/struct_pb.js"),
    file: async () =>
      (await import(join(protobufDir, "wkt/google/protobuf/struct_pb.js")))
        .file_google_protobuf_struct as DescFile,
  },
];

function embeddedBase64(source: string): string {
  const match = /\bfileDesc\(\s*"([A-Za-z0-9+/=]+)"/.exec(source);
  if (!match?.[1]) throw new Error("no embedded descriptor");
  return match[1];
}

/** The object graph, own properties and prototypes alike, as comparable data. */
function shape(value: unknown): unknown {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (Array.isArray(value)) return value.map(shape);
  if (value === null || typeof value !== "object") return value;
  const own = Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, shape(v)]),
  );
  const prototype = Object.getPrototypeOf(value) as object;
  return prototype === Object.prototype ? { own } : { own, prototype: shape(prototype) };
}

describe("descriptor snapshots (bundles)", () => {
  it.each(EMBEDDED)("$name: the snapshot is the FileDescriptorProto fileDesc() decodes", async (entry) => {
    const source = await readFile(entry.path, "utf8");
    const original = await entry.file();
    const proto = new Function(`return ${fileDescriptorLiteral(embeddedBase64(source))}`)();
    const file = snapshotFile(proto, original.dependencies);
    // Same fields set, same defaults behind them, same values: what fromBinary would have built.
    expect(shape(file.proto)).toEqual(shape(original.proto));
    expect(toBinary(FileDescriptorProtoSchema, file.proto)).toEqual(
      toBinary(FileDescriptorProtoSchema, original.proto),
    );
    expect(file.messages.map((m) => m.typeName)).toEqual(original.messages.map((m) => m.typeName));
    expect(
      file.messages.flatMap((m) => m.fields.map((f) => [f.jsonName, f.number, f.fieldKind, f.presence])),
    ).toEqual(
      original.messages.flatMap((m) => m.fields.map((f) => [f.jsonName, f.number, f.fieldKind, f.presence])),
    );
  });

  it("encodes and decodes a payment message with the snapshot's schema as with the generated one", async () => {
    const source = await readFile("lib/gen/payment/v1/payment_pb.ts", "utf8");
    const proto = new Function(`return ${fileDescriptorLiteral(embeddedBase64(source))}`)();
    const file = snapshotFile(proto);
    const request = file.messages.find((m) => m.typeName === AuthorizePaymentRequestSchema.typeName);
    const entry = file.messages.find((m) => m.typeName === LedgerEntrySchema.typeName);
    if (!request || !entry) throw new Error("messages missing from the snapshot");
    const init = {
      idempotencyKey: "key-1",
      payerAccountId: "01HZX3J9Q4Z8Y7W6V5T4S3R2Q1",
      payeeAccountId: "01HZX3J9Q4Z8Y7W6V5T4S3R2Q2",
      amountCents: 9_007_199_254_740_993n,
      currency: "EUR",
      description: "läuft",
    };
    const bytes = toBinary(request, create(request, init));
    expect(bytes).toEqual(
      toBinary(AuthorizePaymentRequestSchema, create(AuthorizePaymentRequestSchema, init)),
    );
    expect(fromBinary(AuthorizePaymentRequestSchema, bytes)).toMatchObject(init);
    // proto3 optional: explicit presence survives the snapshot.
    const unset = toBinary(entry, create(entry, { entryId: "e" }));
    expect(fromBinary(LedgerEntrySchema, unset).balanceAfterCents).toBeUndefined();
    const zero = toBinary(entry, create(entry, { entryId: "e", balanceAfterCents: 0n }));
    expect(fromBinary(LedgerEntrySchema, zero).balanceAfterCents).toBe(0n);
  });

  it("rewrites every fileDesc() call of a generated file and imports the loader", async () => {
    const source = await readFile("lib/gen/payment/v1/payment_pb.ts", "utf8");
    const rewritten = snapshotDescriptors(source);
    expect(rewritten).toBeDefined();
    expect(rewritten).not.toMatch(/\bfileDesc\(\s*"/);
    expect(rewritten).toMatch(
      /^import \{ snapshotFile as __snapshotFile \} from "descriptor-snapshot-file";/,
    );
    expect(snapshotDescriptors("export const x = 1;")).toBeUndefined();
  });
});
