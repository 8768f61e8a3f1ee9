import type { OutgoingMessage } from "./publisher.ts";

// Record overhead beyond key, value and header bytes (lengths, offsets, attributes), rounded up.
const RECORD_OVERHEAD_BYTES = 64;

export function recordBytes(message: OutgoingMessage): number {
  let bytes = RECORD_OVERHEAD_BYTES + message.key.length + Buffer.byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers)) bytes += name.length + value.length;
  return bytes;
}

/**
 * Consecutive runs of items whose records fit in `maxBytes`. No single
 * partition's record batch can then exceed Kafka's max.message.bytes, which
 * would fail the whole request for reasons no message is to blame for.
 */
export function byRequestSize<T>(
  items: readonly T[],
  messageOf: (item: T) => OutgoingMessage,
  maxBytes: number,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const bytes = recordBytes(messageOf(item));
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
