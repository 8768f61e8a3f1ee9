import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "../../lib/backoff.ts";

const policy = { baseMs: 1_000, maxMs: 60_000 };

describe("backoffDelayMs", () => {
  it("doubles per attempt, from the base", () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4].map((attempts) => backoffDelayMs(attempts, policy, top))).toEqual([
      1_000, 2_000, 4_000, 8_000,
    ]);
  });

  it("never waits less than half the nominal delay (equal jitter)", () => {
    expect([1, 2, 3].map((attempts) => backoffDelayMs(attempts, policy, () => 0))).toEqual([
      500, 1_000, 2_000,
    ]);
  });

  it("is capped at the maximum, however many attempts", () => {
    expect(backoffDelayMs(7, policy, () => 0.999_999)).toBe(60_000);
    expect(backoffDelayMs(10_000, policy, () => 0.5)).toBe(45_000);
  });

  it("spreads events that failed together", () => {
    const values = [0.1, 0.4, 0.8];
    expect(new Set(values.map((r) => backoffDelayMs(3, policy, () => r))).size).toBe(3);
  });
});
