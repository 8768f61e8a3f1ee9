/** Whether a series measured over time has stopped growing: the verdict of `npm run bench:soak`. */

export interface Point {
  /** Seconds. */
  t: number;
  v: number;
}

export interface HighWater {
  /** The highest value of the earlier window and of the later one. */
  before: number;
  after: number;
  /** after / before - 1. */
  growth: number;
  /** The later window rose at most `tolerance` above the earlier one's peak. */
  flat: boolean;
}

/**
 * Compares the peaks of two windows (the middle and the last third of a
 * run). What grows without bound keeps setting new peaks; what has settled
 * does not, whatever it does in between: the retained tables rise between
 * maintenance runs and drop at each, a heap never gives pages back, a rate
 * that dips for a minute lowers a table for a while. Comparing peaks is
 * indifferent to all three; a fitted line is not.
 */
export function highWater(before: readonly Point[], after: readonly Point[], tolerance = 0.1): HighWater {
  if (before.length === 0 || after.length === 0) {
    return { before: Number.NaN, after: Number.NaN, growth: Number.NaN, flat: false };
  }
  const peak = (points: readonly Point[]) => Math.max(...points.map((p) => p.v));
  const b = peak(before);
  const a = peak(after);
  const growth = b === 0 ? (a === 0 ? 0 : Number.POSITIVE_INFINITY) : a / b - 1;
  return { before: b, after: a, growth, flat: growth <= tolerance };
}
