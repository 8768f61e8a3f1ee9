import { describe, expect, it, vi } from "vitest";
import { isNudge, NUDGE_EVENT, OutboxNudge } from "../../lib/outbox/nudge.ts";

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

  it("a payment waits for its nudge at most timeoutMs; the nudge carries on and its failure is logged when it comes", async () => {
    const warnings: string[] = [];
    let fail: (error: Error) => void = () => {};
    const nudge = new OutboxNudge({
      enabled: true,
      minIntervalMs: 0,
      timeoutMs: 50,
      trigger: () =>
        new Promise<void>((_, reject) => {
          fail = reject;
        }),
      log: { debug() {}, info() {}, error() {}, warn: (message) => void warnings.push(message) },
    });
    expect(await nudge.afterCommit()).toBe(false);
    expect(warnings).toEqual(["outbox nudge still unanswered; the payment answers without it"]);
    fail(new Error("no answer within 10000 ms"));
    await vi.waitFor(() => expect(warnings).toHaveLength(2));
    expect(warnings[1]).toBe("outbox nudge failed; the scheduled drain will deliver");
  });

  it("a slow gate does not hold the payment either; the nudge still triggers once the gate lets it", async () => {
    let openGate: (open: boolean) => void = () => {};
    let triggered = 0;
    const nudge = new OutboxNudge({
      enabled: true,
      minIntervalMs: 0,
      timeoutMs: 50,
      gate: () =>
        new Promise<boolean>((resolve) => {
          openGate = resolve;
        }),
      trigger: async () => {
        triggered += 1;
      },
    });
    expect(await nudge.afterCommit()).toBe(false);
    expect(triggered).toBe(0);
    openGate(true);
    await vi.waitFor(() => expect(triggered).toBe(1));
  });

  it("a nudge answered in time is reported as triggered", async () => {
    const nudge = new OutboxNudge({
      enabled: true,
      minIntervalMs: 0,
      timeoutMs: 5_000,
      trigger: async () => {},
    });
    expect(await nudge.afterCommit()).toBe(true);
  });
});

describe("isNudge", () => {
  it("tells the api's nudge from the schedule's invocations (a nudged run lingers)", () => {
    expect(isNudge(NUDGE_EVENT)).toBe(true);
    expect(isNudge(JSON.parse(JSON.stringify(NUDGE_EVENT)))).toBe(true);
    // EventBridge's scheduled event, an empty test invocation, anything else.
    expect(isNudge({ source: "aws.events", "detail-type": "Scheduled Event" })).toBe(false);
    expect(isNudge({})).toBe(false);
    expect(isNudge(null)).toBe(false);
    expect(isNudge("nudge")).toBe(false);
  });
});
