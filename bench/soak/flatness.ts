/** Whether a series measured over time has stopped growing: the verdict of `npm run bench:soak`. */

export interface Point {
  /** Seconds. */
  t: number;
  v: number;
}

export interface Trend {
  mean: number;
  /** What the least-squares line through the points gains from the first point's time to the last's. */
  change: number;
  /** change / mean. */
  relative: number;
  /** |change| is at most `tolerance` of the mean. */
  flat: boolean;
}

/**
 * A line fitted through all the points, not the first against the last: the
 * tables rise between maintenance runs and drop at each, and a sawtooth
 * around a level is flat however its ends happen to fall.
 */
export function trend(points: readonly Point[], tolerance = 0.1): Trend {
  const n = points.length;
  if (n < 2) return { mean: points[0]?.v ?? 0, change: 0, relative: 0, flat: false };
  const meanT = points.reduce((s, p) => s + p.t, 0) / n;
  const mean = points.reduce((s, p) => s + p.v, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.t - meanT) * (p.v - mean);
    variance += (p.t - meanT) ** 2;
  }
  const slope = variance === 0 ? 0 : covariance / variance;
  const span = (points[n - 1] as Point).t - (points[0] as Point).t;
  const change = slope * span;
  const relative = mean === 0 ? (change === 0 ? 0 : Number.POSITIVE_INFINITY) : change / mean;
  return { mean, change, relative, flat: Math.abs(relative) <= tolerance };
}
