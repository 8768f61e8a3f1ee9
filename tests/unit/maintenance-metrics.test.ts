import { describe, expect, it } from "vitest";
import { recordRetentionRun } from "../../lib/maintenance/metrics.ts";
import type { Dimensions, MetricsRecorder } from "../../lib/observability/metrics.ts";

function recorder(): MetricsRecorder & { seen: [string, string, Dimensions, number][] } {
  const seen: [string, string, Dimensions, number][] = [];
  return {
    seen,
    count: (name, dimensions, value = 1) => void seen.push([name, "Count", dimensions, value]),
    milliseconds: (name, dimensions, value) => void seen.push([name, "Milliseconds", dimensions, value]),
  };
}

describe("maintenance metrics", () => {
  it("turn a retention run into its outcome, rows deleted per table, duration and the largest lag", () => {
    const r = recorder();
    recordRetentionRun(r, {
      deleted: { outbox: 30_000, idempotencyKeys: 29_000, inbox: 31_000, redrivenDeadLetters: 0 },
      stoppedBy: "time",
      durationMs: 40_100,
      lagMs: { outbox: 1_000, idempotencyKeys: 65_000, inbox: 0, redrivenDeadLetters: 0 },
    });
    expect(r.seen).toEqual([
      ["RetentionRuns", "Count", { stoppedBy: "time" }, 1],
      ["RetentionDeleted", "Count", { table: "outbox" }, 30_000],
      ["RetentionDeleted", "Count", { table: "idempotencyKeys" }, 29_000],
      ["RetentionDeleted", "Count", { table: "inbox" }, 31_000],
      ["RetentionDeleted", "Count", { table: "redrivenDeadLetters" }, 0],
      ["RetentionDuration", "Milliseconds", {}, 40_100],
      // The alarm's figure: the table furthest behind.
      ["RetentionLag", "Milliseconds", {}, 65_000],
    ]);
  });
});
