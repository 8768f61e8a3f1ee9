/**
 * patches/kafkajs+2.2.4.patch writes a record's headers in place instead of
 * one Encoder per header (a large part of a header's cost on the drain's hot
 * path). The bytes must be exactly what kafkajs' own composition writes.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

type Headers = Record<string, string | Buffer | (string | Buffer)[]>;
interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Headers;
}
interface EncoderInstance {
  buffer: Buffer;
  writeVarInt(n: number): EncoderInstance;
  writeInt8(n: number): EncoderInstance;
  writeVarLong(n: number): EncoderInstance;
  writeVarIntBytes(v: Buffer | string | null): EncoderInstance;
  writeVarIntArray(a: EncoderInstance[]): EncoderInstance;
}
interface EncoderClass {
  new (): EncoderInstance;
  sizeOfVarInt(n: number): number;
  sizeOfVarLong(n: number): number;
  sizeOfVarIntBytes(v: Buffer | string | null): number;
}

const require = createRequire(import.meta.url);
const Encoder = require("kafkajs/src/protocol/encoder.js") as EncoderClass;
const Header = require("kafkajs/src/protocol/recordBatch/header/v0/index.js") as (h: {
  key: string;
  value: string | Buffer;
}) => EncoderInstance;
const Record = require("kafkajs/src/protocol/recordBatch/record/v0/index.js") as (
  a: RecordArgs,
) => EncoderInstance;

/** kafkajs 2.2.4's record encoding as released: one Encoder per header. */
function released({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }: RecordArgs): Buffer {
  const list = Object.entries(headers).flatMap(([k, v]) =>
    Array.isArray(v) ? v.map((value) => ({ key: k, value })) : [{ key: k, value: v }],
  );
  let headerBytes = Encoder.sizeOfVarInt(list.length);
  for (const h of list) {
    const k = Buffer.byteLength(h.key);
    const v = Buffer.byteLength(h.value);
    headerBytes += Encoder.sizeOfVarInt(k) + k + Encoder.sizeOfVarInt(v) + v;
  }
  const size =
    1 +
    Encoder.sizeOfVarLong(timestampDelta) +
    Encoder.sizeOfVarInt(offsetDelta) +
    Encoder.sizeOfVarIntBytes(key) +
    Encoder.sizeOfVarIntBytes(value) +
    headerBytes;
  return new Encoder()
    .writeVarInt(size)
    .writeInt8(0)
    .writeVarLong(timestampDelta)
    .writeVarInt(offsetDelta)
    .writeVarIntBytes(key)
    .writeVarIntBytes(value)
    .writeVarIntArray(list.map(Header)).buffer;
}

describe("kafkajs record encoding (patched)", () => {
  it("writes the same bytes as the released encoder", () => {
    const cases: RecordArgs[] = [
      {
        key: "01JDQ7K3J8Z5X9V2M4N6P8R0T3",
        value: JSON.stringify({ payload: "x".repeat(480) }),
        headers: {
          event_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T2",
          event_type: "PaymentAuthorized",
          schema: "payment_authorized",
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        },
      },
      { offsetDelta: 999, timestampDelta: 123_456_789, key: null, value: null },
      {
        key: Buffer.alloc(0),
        value: Buffer.alloc(70_000, 7),
        headers: { many: ["1", "22", Buffer.from([1, 2])] },
      },
      { key: "é", value: "ü".repeat(300), headers: { ß: "", empty: [] } },
    ];
    for (const args of cases) expect(Record(args).buffer.equals(released(args))).toBe(true);
  });
});
