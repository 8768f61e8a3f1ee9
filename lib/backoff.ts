export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before attempt `attempts + 1`, after `attempts` failures (>= 1):
 * base * 2^(attempts-1), capped, with "equal jitter" (half fixed, half
 * random) so retries that failed together (events, migrate runs) spread out
 * but never come back sooner than half the nominal delay.
 */
export function backoffDelayMs(attempts: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.max(0, attempts - 1);
  const nominal = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(exponent, 52));
  const half = nominal / 2;
  return Math.round(half + random() * half);
}
