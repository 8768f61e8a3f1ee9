import { describe, expect, it } from "vitest";
import { type Point, trend } from "../../bench/soak/flatness.ts";

const series = (f: (t: number) => number, seconds = 200, step = 10): Point[] =>
  Array.from({ length: seconds / step + 1 }, (_, i) => ({ t: i * step, v: f(i * step) }));

describe("the soak's flatness verdict", () => {
  it("calls a sawtooth around a level flat, whichever phase the window ends in", () => {
    // Maintenance every 40 s: a table grows by 20k rows, then drops back.
    for (const phase of [0, 10, 25]) {
      const sawtooth = series((t) => 60_000 + ((t + phase) % 40) * 500);
      expect(trend(sawtooth).flat, `phase ${phase}`).toBe(true);
    }
  });

  it("calls steady growth not flat, even when small next to the level", () => {
    const growing = series((t) => 100_000 + t * 100); // +20k over 200 s: 18 % of the mean
    const result = trend(growing);
    expect(result.flat).toBe(false);
    expect(result.change).toBeCloseTo(20_000);
  });

  it("needs two points to judge", () => {
    expect(trend([{ t: 0, v: 5 }]).flat).toBe(false);
    expect(trend([]).flat).toBe(false);
  });
});
