import { describe, expect, it } from "vitest";
import { KafkaTopicMissingError } from "../../lib/kafka/errors.ts";
import type { MessagePublisher, OutgoingMessage } from "../../lib/kafka/publisher.ts";
import type { ClaimedEvent } from "../../lib/outbox/outbox-repository.ts";
import type { Candidate } from "../../lib/outbox/prepare.ts";
import { sendIsolating } from "../../lib/outbox/send-isolating.ts";

const AUTHORIZED = "t.payments.paymentauthorized";
const DECLINED = "t.payments.paymentdeclined";

function candidate(seq: number, aggregateId: string, topic: string): Candidate {
  const event = { seq: BigInt(seq), id: `e${seq}`, aggregateId, attempts: 0 } as ClaimedEvent;
  const message: OutgoingMessage = { topic, key: aggregateId, value: `e${seq}`, headers: {} };
  return { event, envelope: {} as Candidate["envelope"], message };
}

/** A publisher that has no `missing` topics: a send that names one fails as the real one does. */
function publisherWithout(missing: string[]): MessagePublisher & { sends: string[][] } {
  const sends: string[][] = [];
  return {
    sends,
    async publish(messages) {
      sends.push(messages.map((m) => m.value));
      const absent = [...new Set(messages.map((m) => m.topic))].filter((t) => missing.includes(t));
      if (absent.length > 0) throw new KafkaTopicMissingError(absent);
    },
    close: async () => undefined,
  };
}

const seqs = (events: ClaimedEvent[]) => events.map((e) => Number(e.seq));

describe("sendIsolating and a missing topic", () => {
  it("parks the missing topic's events, holds their aggregates' later events, and sends the rest once more", async () => {
    const publisher = publisherWithout([DECLINED]);
    const batch = [
      candidate(1, "a", AUTHORIZED),
      candidate(2, "b", DECLINED),
      candidate(3, "a", DECLINED),
      candidate(4, "c", AUTHORIZED),
      // Behind its aggregate's parked event: it must not overtake it.
      candidate(5, "b", AUTHORIZED),
    ];
    const result = await sendIsolating(publisher, batch, new Set(), 1_000_000);
    expect(seqs(result.published)).toEqual([1, 4]);
    expect(seqs(result.parked)).toEqual([2, 3]);
    expect(seqs(result.held)).toEqual([5]);
    expect(result.failed).toEqual([]);
    expect(result.missingTopics).toEqual([DECLINED]);
    expect(result.unavailable).toBeUndefined();
    // The first wave (each aggregate's first topic; orderedWaves), then that wave without what the
    // missing topic blocks: no halving, no loop. The second wave (e3, e5) sends nothing: e3's topic
    // is known missing, and e5 waits behind its aggregate's parked event.
    expect(publisher.sends).toEqual([
      ["e1", "e2", "e4"],
      ["e1", "e4"],
    ]);
  });

  it("parks later chunks' events of a topic already known missing without sending them", async () => {
    const publisher = publisherWithout([DECLINED]);
    const big = "x".repeat(600);
    const batch = [
      candidate(1, "a", DECLINED),
      candidate(2, "b", DECLINED),
      candidate(3, "c", AUTHORIZED),
    ].map((c) => ({ ...c, message: { ...c.message, value: `${c.message.value}${big}` } }));
    // One message per request: three chunks.
    const result = await sendIsolating(publisher, batch, new Set(), 1_000);
    expect(seqs(result.parked)).toEqual([1, 2]);
    expect(seqs(result.published)).toEqual([3]);
    expect(publisher.sends.map((s) => s.length)).toEqual([1, 1]);
  });

  it("sends everything when every topic exists", async () => {
    const publisher = publisherWithout([]);
    const result = await sendIsolating(publisher, [candidate(1, "a", DECLINED)], new Set(), 1_000_000);
    expect(seqs(result.published)).toEqual([1]);
    expect(result.missingTopics).toEqual([]);
  });
});
