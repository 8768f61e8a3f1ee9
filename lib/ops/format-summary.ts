/**
 * `npm run dev`'s live summary: one line per sample, and only when it tells
 * something new, so a quiet stack keeps a quiet log.
 */
import { formatDuration } from "./format-status.ts";
import type { SummarySample } from "./summary-sample.ts";

/** An unchanged backlog is repeated this often, so its growing lag stays visible. */
export const STUCK_REPEAT_MS = 60_000;

/** What the last printed line said, as far as deciding on the next one goes. */
export interface PrintedSummary {
  key: string;
  atMs: number;
}

function declineCount(sample: SummarySample): number {
  return Object.values(sample.declined).reduce((sum, n) => sum + n, 0);
}

/** `12.4 payments/s · declines 3 (INSUFFICIENT_FUNDS 2, ACCOUNT_NOT_FOUND 1) · pending 0 · lag 0 s · dead letters 1` */
export function formatSummary(sample: SummarySample): string {
  const declines = declineCount(sample);
  const payments = sample.authorized + declines;
  const rate = sample.windowMs > 0 ? (payments * 1000) / sample.windowMs : 0;
  const reasons = Object.entries(sample.declined)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([reason, n]) => `${reason} ${n}`)
    .join(", ");
  const lag = sample.oldestPendingAgeMs === null ? "0 s" : formatDuration(sample.oldestPendingAgeMs);
  return [
    `${rate.toFixed(1)} payments/s`,
    declines > 0 ? `declines ${declines} (${reasons})` : "declines 0",
    `pending ${sample.pending}`,
    `lag ${lag}`,
    `dead letters ${sample.deadLetters}`,
  ].join(" · ");
}

/**
 * The line to print for this sample, or undefined to stay silent. A sample is
 * printed when payments were made in its window, when the backlog or the dead
 * letters moved since the last line (including activity stopping), and when an
 * unchanged backlog has waited STUCK_REPEAT_MS since the last line. An idle
 * stack prints nothing.
 */
export function summaryToPrint(
  sample: SummarySample,
  last: PrintedSummary | undefined,
  repeatMs = STUCK_REPEAT_MS,
): { line: string; printed: PrintedSummary } | undefined {
  const busy = sample.authorized + declineCount(sample) > 0;
  const key = `${busy ? "busy" : "idle"}|${sample.pending}|${sample.deadLetters}`;
  const atMs = sample.at.getTime();
  const print =
    busy || last === undefined || last.key !== key || (sample.pending > 0 && atMs - last.atMs >= repeatMs);
  return print ? { line: formatSummary(sample), printed: { key, atMs } } : undefined;
}
