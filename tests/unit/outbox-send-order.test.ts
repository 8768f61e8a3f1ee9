import { describe, expect, it } from "vitest";
import type { OutgoingMessage } from "../../lib/kafka/publisher.ts";
import type { ClaimedEvent } from "../../lib/outbox/outbox-repository.ts";
import type { Candidate } from "../../lib/outbox/prepare.ts";
import { orderedWaves, sendIsolating } from "../../lib/outbox/send-isolating.ts";

let seq = 0n;
function candidate(aggregateId: string, topic: string): Candidate {
  seq += 1n;
  const event = { seq, id: `e${seq}`, aggregateId } as ClaimedEvent;
  const message: OutgoingMessage = { topic, key: aggregateId, value: `{"n":${seq}}`, headers: {} };
  return { event, envelope: {} as Candidate["envelope"], message };
}

const ids = (cs: Candidate[]) => cs.map((c) => `${c.event.aggregateId}:${c.message.topic}`);

describe("sending several events of one aggregate", () => {
  it("keeps an aggregate's run on one topic in one wave and moves it on where its topic changes", () => {
    const batch = [
      candidate("A", "held"),
      candidate("B", "authorized"),
      candidate("A", "captured"),
      candidate("B", "authorized"),
      candidate("A", "refunded"),
      candidate("A", "refunded"),
      candidate("C", "held"),
    ];
    expect(orderedWaves(batch).map(ids)).toEqual([
      ["A:held", "B:authorized", "B:authorized", "C:held"],
      ["A:captured"],
      ["A:refunded", "A:refunded"],
    ]);
    expect(orderedWaves([candidate("A", "x"), candidate("B", "y")])).toHaveLength(1);
  });

  it("an event Kafka refuses holds its aggregate's later events on other topics; the others go", async () => {
    const requests: string[][] = [];
    const publisher = {
      async publish(messages: readonly OutgoingMessage[]) {
        requests.push(messages.map((m) => `${m.key}:${m.topic}`));
        // One topic refuses A's record (say, too large for it); the rest would be appended.
        if (messages.some((m) => m.topic === "held" && m.key === "A")) {
          throw Object.assign(new Error("too large"), {
            name: "KafkaJSProtocolError",
            type: "MESSAGE_TOO_LARGE",
          });
        }
      },
      close: async () => undefined,
    };
    const batch = [candidate("A", "held"), candidate("B", "held"), candidate("A", "captured")];
    const result = await sendIsolating(publisher, batch, new Set(), 1_000_000);
    expect(result.failed.map((f) => f.candidate.event.aggregateId)).toEqual(["A"]);
    expect(result.published.map((e) => e.aggregateId)).toEqual(["B"]);
    expect(result.held.map((e) => e.aggregateId)).toEqual(["A"]);
    // A's capture was never sent: in one request with its hold, it could have landed alone.
    expect(requests.flat().filter((r) => r === "A:captured")).toEqual([]);
  });
});
