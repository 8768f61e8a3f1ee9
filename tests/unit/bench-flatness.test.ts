import { describe, expect, it } from "vitest";
import { highWater, type Point } from "../../bench/soak/flatness.ts";

const series = (f: (t: number) => number, from: number, to: number, step = 10): Point[] =>
  Array.from({ length: (to - from) / step + 1 }, (_, i) => ({ t: from + i * step, v: f(from + i * step) }));

describe("the soak's flatness verdict", () => {
  it("calls a sawtooth around a level flat, whichever phase each window ends in", () => {
    // Maintenance every 40 s: a table grows by 20k rows, then drops back.
    const sawtooth = (t: number) => 60_000 + (t % 40) * 500;
    for (const [from, to] of [
      [200, 400],
      [210, 390],
      [195, 405],
    ] as const) {
      expect(highWater(series(sawtooth, 0, from), series(sawtooth, from, to)).flat, `${from}-${to}`).toBe(
        true,
      );
    }
  });

  it("is not misled by a dip (a machine's stall lowers the tables for a while)", () => {
    const dip = (t: number) => (t > 250 && t < 300 ? 20_000 : 60_000);
    expect(highWater(series(dip, 0, 200), series(dip, 200, 400)).flat).toBe(true);
  });

  it("calls steady growth not flat, even when small next to the level", () => {
    const growing = (t: number) => 100_000 + t * 100; // +20k over 200 s
    const result = highWater(series(growing, 0, 200), series(growing, 200, 400));
    expect(result.flat).toBe(false);
    expect(result.growth).toBeCloseTo(20_000 / 120_000);
  });

  it("needs points in both windows to judge", () => {
    expect(highWater([], [{ t: 0, v: 5 }]).flat).toBe(false);
    expect(highWater([{ t: 0, v: 5 }], []).flat).toBe(false);
  });
});
