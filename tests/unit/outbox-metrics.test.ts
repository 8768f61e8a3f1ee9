import { describe, expect, it } from "vitest";
import { recordDeadLetter } from "../../lib/dead-letters/metrics.ts";
import type { Dimensions, MetricsRecorder } from "../../lib/observability/metrics.ts";
import { recordDrainRun } from "../../lib/outbox/metrics.ts";

function recorder(): MetricsRecorder & { seen: [string, string, Dimensions, number][] } {
  const seen: [string, string, Dimensions, number][] = [];
  return {
    seen,
    count: (name, dimensions, value = 1) => void seen.push([name, "Count", dimensions, value]),
    milliseconds: (name, dimensions, value) => void seen.push([name, "Milliseconds", dimensions, value]),
  };
}

const summary = {
  claimed: 10,
  published: 7,
  retried: 1,
  deadLettered: 1,
  released: 1,
  parked: 2,
  missingTopics: ["payments.paymentdeclined"],
  batches: 2,
  durationMs: 120,
  lagMs: 4500,
  stoppedBy: "drained" as const,
};

describe("drain and dead-letter metrics", () => {
  it("turn a drain run's summary into counts, its duration and the outbox lag", () => {
    const r = recorder();
    recordDrainRun(r, summary);
    expect(r.seen).toEqual([
      ["DrainRuns", "Count", { stoppedBy: "drained" }, 1],
      ["OutboxClaimed", "Count", {}, 10],
      ["OutboxPublished", "Count", {}, 7],
      ["OutboxRetried", "Count", {}, 1],
      ["OutboxReleased", "Count", {}, 1],
      ["OutboxDeadLettered", "Count", {}, 1],
      ["KafkaTopicMissing", "Count", {}, 2],
      ["DrainDuration", "Milliseconds", {}, 120],
      ["OutboxLag", "Milliseconds", {}, 4500],
    ]);
  });

  it("counts a drain that found every slot taken, and nothing else of it", () => {
    const r = recorder();
    recordDrainRun(r, { ...summary, claimed: 0, published: 0, stoppedBy: "no-slot" });
    expect(r.seen).toEqual([["DrainRuns", "Count", { stoppedBy: "no-slot" }, 1]]);
  });

  it("counts a dead letter recorded and published by this call", () => {
    const r = recorder();
    recordDeadLetter(r, { eventId: "e", recorded: true, published: false });
    expect(r.seen).toEqual([
      ["DeadLettersRecorded", "Count", {}, 1],
      ["DeadLettersPublished", "Count", {}, 0],
    ]);
  });
});
