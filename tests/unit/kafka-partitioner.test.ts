import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { newId } from "../../lib/ids.ts";
import { keyHashPartitioner, murmur2 } from "../../lib/kafka/partitioner.ts";

// kafkajs' own (Java-compatible) implementation, the reference.
const reference = createRequire(import.meta.url)("kafkajs/src/producer/partitioners/default/murmur2.js") as (
  key: Buffer,
) => number;

describe("murmur2", () => {
  it("matches kafkajs' Java-compatible murmur2 for keys of every length mod 4", () => {
    const keys = ["", "a", "ab", "abc", "abcd", "21", "€uro", ...Array.from({ length: 500 }, () => newId())];
    for (let i = 0; i < 200; i += 1)
      keys.push(
        Math.random()
          .toString(36)
          .slice(2, 2 + (i % 23)),
      );
    for (const key of keys) expect(murmur2(Buffer.from(key)), key).toBe(reference(Buffer.from(key)));
  });

  it("matches known values from the Java client", () => {
    // Utils.murmur2("21".getBytes()) == -973932308 (Kafka's own UtilsTest).
    expect(murmur2(Buffer.from("21"))).toBe(-973932308);
  });
});

describe("keyHashPartitioner", () => {
  const partitionMetadata = [0, 1, 2].map((partitionId) => ({
    partitionId,
    partitionErrorCode: 0,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
  const partition = keyHashPartitioner();

  it("puts a key where the Java client and kafkajs' DefaultPartitioner would", () => {
    for (const key of Array.from({ length: 100 }, () => newId())) {
      const expected = (reference(Buffer.from(key)) & 0x7fffffff) % 3;
      expect(partition({ topic: "t", partitionMetadata, message: { key, value: "v" } })).toBe(expected);
    }
  });

  it("honours an explicit partition", () => {
    expect(
      partition({ topic: "t", partitionMetadata, message: { key: "k", value: "v", partition: 2 } }),
    ).toBe(2);
  });
});
