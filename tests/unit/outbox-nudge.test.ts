import { describe, expect, it } from "vitest";
import { OutboxNudge } from "../../lib/outbox/nudge.ts";

function nudgeAt(times: number[], options: { enabled?: boolean; fail?: boolean } = {}) {
  let now = 0;
  let triggered = 0;
  const warnings: string[] = [];
  const nudge = new OutboxNudge({
    enabled: options.enabled ?? true,
    minIntervalMs: 250,
    nowMs: () => now,
    trigger: async () => {
      triggered += 1;
      if (options.fail) throw new Error("Lambda throttled");
    },
    log: { debug() {}, info() {}, error() {}, warn: (message) => void warnings.push(message) },
  });
  return {
    async run(): Promise<boolean[]> {
      const results: boolean[] = [];
      for (const t of times) {
        now = t;
        results.push(await nudge.afterCommit());
      }
      return results;
    },
    triggered: () => triggered,
    warnings,
  };
}

describe("OutboxNudge", () => {
  it("triggers at most once per interval", async () => {
    const n = nudgeAt([0, 10, 249, 250, 400, 600]);
    expect(await n.run()).toEqual([true, false, false, true, false, true]);
    expect(n.triggered()).toBe(3);
  });

  it("does nothing when disabled", async () => {
    const n = nudgeAt([0, 1_000], { enabled: false });
    expect(await n.run()).toEqual([false, false]);
    expect(n.triggered()).toBe(0);
  });

  it("never fails the caller: a failed trigger is logged and left to the schedule", async () => {
    const n = nudgeAt([0, 100, 300], { fail: true });
    expect(await n.run()).toEqual([false, false, false]);
    expect(n.triggered()).toBe(2);
    expect(n.warnings).toHaveLength(2);
  });

  it("asks the shared gate after its own throttle, and skips the trigger when the gate says no", async () => {
    const answers = [false, true, false];
    let asked = 0;
    let triggered = 0;
    let now = 0;
    const nudge = new OutboxNudge({
      enabled: true,
      minIntervalMs: 250,
      nowMs: () => now,
      gate: async () => answers[asked++] ?? false,
      trigger: async () => {
        triggered += 1;
      },
    });
    const results: boolean[] = [];
    for (const t of [0, 100, 300, 600]) {
      now = t;
      results.push(await nudge.afterCommit());
    }
    expect(results).toEqual([false, false, true, false]);
    expect(asked).toBe(3);
    expect(triggered).toBe(1);
  });

  it("gives up on a trigger with no answer at its deadline, aborts it, and leaves the event to the schedule", async () => {
    const warnings: string[] = [];
    let seen: AbortSignal | undefined;
    const nudge = new OutboxNudge({
      enabled: true,
      minIntervalMs: 0,
      timeoutMs: 50,
      trigger: (signal) => {
        seen = signal;
        return new Promise<void>(() => {});
      },
      log: { debug() {}, info() {}, error() {}, warn: (message) => void warnings.push(message) },
    });
    expect(await nudge.afterCommit()).toBe(false);
    expect(seen?.aborted).toBe(true);
    expect(warnings).toEqual(["outbox nudge failed; the scheduled drain will deliver"]);
  });

  it("gives up on a gate with no answer too, and never triggers after it gave up", async () => {
    let releaseGate: (open: boolean) => void = () => {};
    let triggered = 0;
    const nudge = new OutboxNudge({
      enabled: true,
      minIntervalMs: 0,
      timeoutMs: 50,
      gate: () =>
        new Promise<boolean>((resolve) => {
          releaseGate = resolve;
        }),
      trigger: async () => {
        triggered += 1;
      },
    });
    expect(await nudge.afterCommit()).toBe(false);
    releaseGate(true);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(triggered).toBe(0);
  });

  it("a trigger that answers in time is not aborted", async () => {
    let seen: AbortSignal | undefined;
    const nudge = new OutboxNudge({
      enabled: true,
      minIntervalMs: 0,
      timeoutMs: 5_000,
      trigger: async (signal) => {
        seen = signal;
        expect(signal.aborted).toBe(false);
      },
    });
    expect(await nudge.afterCommit()).toBe(true);
    expect(seen).toBeDefined();
  });
});
