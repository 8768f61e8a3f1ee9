/**
 * The load-time half of infra/esbuild-descriptor-snapshots.ts, bundled into
 * every function whose code embeds protobuf descriptors: the file's registry
 * from the snapshot, resolving its imports among the files it was given, as
 * protobuf-es's fileDesc() does with the decoded bytes.
 */
import { createFileRegistry, type DescFile } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";

export function snapshotFile(proto: FileDescriptorProto, imports?: DescFile[]): DescFile {
  proto.dependency = imports ? imports.map((file) => file.proto.name) : [];
  const registry = createFileRegistry(proto, (name) => imports?.find((file) => file.proto.name === name));
  const file = registry.getFile(proto.name);
  if (!file) throw new Error(`descriptor snapshot of ${proto.name} did not register`);
  return file;
}
