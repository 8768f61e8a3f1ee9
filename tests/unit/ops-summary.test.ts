/**
 * `npm run dev`'s live summary: the line, when it is printed and when it is
 * not, and the sampler loop around it (with a scripted reader, on fake timers).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { formatSummary, STUCK_REPEAT_MS, summaryToPrint } from "../../lib/ops/format-summary.ts";
import type { SummarySample } from "../../lib/ops/summary-sample.ts";
import { startSummarySampler } from "../../lib/ops/summary-sampler.ts";

const T0 = Date.parse("2026-06-01T12:00:00.000Z");

function sample(atMs: number, overrides: Partial<SummarySample> = {}): SummarySample {
  return {
    at: new Date(T0 + atMs),
    windowMs: 5000,
    authorized: 0,
    declined: {},
    pending: 0,
    oldestPendingAgeMs: null,
    deadLetters: 0,
    ...overrides,
  };
}

describe("formatSummary", () => {
  it("gives the rate over the window, declines by reason (most first), backlog, lag and dead letters", () => {
    const line = formatSummary(
      sample(0, {
        windowMs: 5000,
        authorized: 59,
        declined: { ACCOUNT_NOT_FOUND: 1, INSUFFICIENT_FUNDS: 2, CURRENCY_MISMATCH: 0 },
        pending: 7,
        oldestPendingAgeMs: 125_000,
        deadLetters: 1,
      }),
    );
    expect(line).toBe(
      "12.4 payments/s · declines 3 (INSUFFICIENT_FUNDS 2, ACCOUNT_NOT_FOUND 1) · pending 7 · lag 2 min 5 s · dead letters 1",
    );
  });

  it("says 0 for an idle stack, and lag 0 s when nothing is pending", () => {
    expect(formatSummary(sample(0))).toBe(
      "0.0 payments/s · declines 0 · pending 0 · lag 0 s · dead letters 0",
    );
    expect(formatSummary(sample(0, { pending: 1, oldestPendingAgeMs: 350 }))).toContain("lag 350 ms");
  });
});

describe("summaryToPrint", () => {
  it("prints the first sample, every sample with payments, and one line when activity stops", () => {
    const first = summaryToPrint(sample(0), undefined);
    expect(first?.line).toBe("0.0 payments/s · declines 0 · pending 0 · lag 0 s · dead letters 0");
    const busy = summaryToPrint(sample(5000, { authorized: 10 }), first?.printed);
    expect(busy?.line).toMatch(/^2\.0 payments\/s/);
    // Same figures again: still printed, payments were made.
    const busyAgain = summaryToPrint(sample(10_000, { authorized: 10 }), busy?.printed);
    expect(busyAgain).toBeDefined();
    const stopped = summaryToPrint(sample(15_000), busyAgain?.printed);
    expect(stopped?.line).toMatch(/^0\.0 payments\/s/);
    expect(summaryToPrint(sample(20_000), stopped?.printed)).toBeUndefined();
  });

  it("stays silent while idle and unchanged, however long", () => {
    const first = summaryToPrint(sample(0, { deadLetters: 2 }), undefined);
    for (const at of [5000, 60_000, 3_600_000]) {
      expect(summaryToPrint(sample(at, { deadLetters: 2 }), first?.printed)).toBeUndefined();
    }
  });

  it("prints when the backlog or the dead letters move without payments", () => {
    const first = summaryToPrint(sample(0, { pending: 3, oldestPendingAgeMs: 1000 }), undefined);
    expect(
      summaryToPrint(sample(5000, { pending: 0, oldestPendingAgeMs: null }), first?.printed)?.line,
    ).toContain("pending 0");
    expect(
      summaryToPrint(sample(5000, { pending: 3, oldestPendingAgeMs: 6000, deadLetters: 1 }), first?.printed)
        ?.line,
    ).toContain("dead letters 1");
  });

  it("repeats an unchanged backlog once a minute, so its growing lag shows", () => {
    const first = summaryToPrint(sample(0, { pending: 3, oldestPendingAgeMs: 1000 }), undefined);
    const stuck = (at: number) => sample(at, { pending: 3, oldestPendingAgeMs: 1000 + at });
    expect(summaryToPrint(stuck(5000), first?.printed)).toBeUndefined();
    expect(summaryToPrint(stuck(STUCK_REPEAT_MS - 1), first?.printed)).toBeUndefined();
    const repeated = summaryToPrint(stuck(STUCK_REPEAT_MS), first?.printed);
    expect(repeated?.line).toContain("lag 1 min 1 s");
    expect(summaryToPrint(stuck(STUCK_REPEAT_MS + 5000), repeated?.printed)).toBeUndefined();
  });
});

describe("startSummarySampler", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("takes a silent baseline, then samples each interval from the previous sample's time", async () => {
    const script: (SummarySample | Error)[] = [
      sample(0, { windowMs: 0 }),
      sample(1000, { authorized: 3, windowMs: 1000 }),
      sample(2000),
      sample(3000),
      new Error("connection refused"),
      new Error("connection refused"),
      sample(6000),
    ];
    const sinces: (string | null)[] = [];
    const lines: string[] = [];
    const sampler = startSummarySampler({
      intervalMs: 1000,
      read: async (since) => {
        sinces.push(since?.toISOString() ?? null);
        const next = script.shift();
        if (!next) throw new Error("script exhausted");
        if (next instanceof Error) throw next;
        return next;
      },
      print: (line) => lines.push(line),
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(lines).toEqual([]);
    await vi.advanceTimersByTimeAsync(6000);
    await sampler.stop();

    expect(sinces).toEqual([
      null,
      "2026-06-01T12:00:00.000Z",
      "2026-06-01T12:00:01.000Z",
      "2026-06-01T12:00:02.000Z",
      "2026-06-01T12:00:03.000Z",
      // A failed read keeps the window's start: the next rate covers the gap.
      "2026-06-01T12:00:03.000Z",
      "2026-06-01T12:00:03.000Z",
    ]);
    expect(lines).toEqual([
      "3.0 payments/s · declines 0 · pending 0 · lag 0 s · dead letters 0",
      "0.0 payments/s · declines 0 · pending 0 · lag 0 s · dead letters 0",
      "unavailable: connection refused",
      // After an error the next good sample is printed, though it says nothing new.
      "0.0 payments/s · declines 0 · pending 0 · lag 0 s · dead letters 0",
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stop() waits for the sample in flight and schedules no other", async () => {
    let release: (() => void) | undefined;
    let reads = 0;
    const sampler = startSummarySampler({
      intervalMs: 1000,
      read: async () => {
        reads += 1;
        if (reads === 2) await new Promise<void>((resolve) => (release = resolve));
        return sample(reads * 1000, { authorized: 1 });
      },
      print: () => {},
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(reads).toBe(2);
    let stopped = false;
    const stopping = sampler.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    release?.();
    await stopping;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(reads).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });
});
