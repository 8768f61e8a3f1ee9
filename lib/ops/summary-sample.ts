/**
 * One sample of `npm run dev`'s live summary, read from the database in one
 * statement: payments committed since the previous sample (by status and
 * decline reason), the outbox backlog and its age, and dead letters not yet
 * redriven. Read-only and cheap enough to run every few seconds beside a
 * busy ledger.
 */
import { encodeTime } from "ulid";
import type { Pool } from "../db/pool.ts";

export interface SummarySample {
  /** The database's clock when the sample was read; the next sample's window starts here. */
  at: Date;
  /** Length of the window the payments were counted in; 0 for the first sample (no window yet). */
  windowMs: number;
  authorized: number;
  /** Declined payments in the window, by decline reason (error code). */
  declined: Record<string, number>;
  /** Outbox events neither published nor dead-lettered. */
  pending: number;
  /** Age of the oldest pending event (the outbox lag); null when nothing is pending. */
  oldestPendingAgeMs: number | null;
  /** Dead letters not yet redriven. */
  deadLetters: number;
}

/**
 * payments has no index on created_at, and one would cost every payment an
 * extra index insert. Its primary key is a ULID made by the api just before
 * the payment's transaction, so the key's leading time is at most one api
 * call (its Lambda timeout, 10 s) plus clock skew before created_at: a range
 * scan of the primary key from that much before the window (30 s leaves room
 * for both) finds every candidate, and created_at then decides exactly. At
 * 1,000 payments/s that is ~35,000 recent index entries, ~25 ms a sample.
 */
export const ID_TIME_SLACK_MS = 30_000;

// One statement, so all figures share one snapshot and one clock (now()).
// Pending rows are few: the partial index outbox_pending holds exactly them.
// dead_letters keeps only what retention has not deleted: redriven rows go
// after DEAD_LETTER_RETENTION, so the table stays small.
export const SUMMARY_SAMPLE_SQL = `
  WITH window_payments AS (
    SELECT status, error_code, count(*)::int AS n
    FROM payments
    WHERE $1::timestamptz IS NOT NULL
      AND id >= $2::text
      AND created_at >= $1::timestamptz AND created_at < now()
    GROUP BY status, error_code
  ), pending AS (
    SELECT count(*)::int AS n, min(created_at) AS oldest
    FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL
  )
  SELECT now() AS at,
         coalesce((SELECT json_agg(json_build_object('status', status, 'reason', error_code, 'n', n))
                   FROM window_payments), '[]') AS payments,
         pending.n AS pending,
         pending.oldest AS oldest_pending,
         (SELECT count(*)::int FROM dead_letters WHERE redriven_at IS NULL) AS dead_letters
  FROM pending`;

/** SUMMARY_SAMPLE_SQL's parameters: the window's start, and the primary key's floor for it. */
export function summarySampleParams(since: Date | null): [Date | null, string] {
  // A 10-character ULID time prefix sorts at or before every id of that millisecond.
  return [since, since ? encodeTime(Math.max(0, since.getTime() - ID_TIME_SLACK_MS), 10) : ""];
}

interface SampleRow {
  at: Date;
  payments: { status: string; reason: string | null; n: number }[];
  pending: number;
  oldest_pending: Date | null;
  dead_letters: number;
}

/**
 * Reads a sample whose payments are those committed with created_at in
 * [since, the database's now()). `since` is the previous sample's `at`;
 * without one (the first sample) no payments are counted. created_at is when
 * a payment's transaction began, so one still open at the previous sample
 * (begun before it, committed after) falls in neither window: payment
 * transactions last milliseconds, a few-second rate is off by that fraction.
 */
export async function readSummarySample(pool: Pool, since: Date | null): Promise<SummarySample> {
  const { rows } = await pool.query<SampleRow>(SUMMARY_SAMPLE_SQL, summarySampleParams(since));
  const row = rows[0] as SampleRow;
  let authorized = 0;
  const declined: Record<string, number> = {};
  for (const group of row.payments) {
    if (group.status === "AUTHORIZED") authorized += group.n;
    else {
      const reason = group.reason ?? "UNKNOWN";
      declined[reason] = (declined[reason] ?? 0) + group.n;
    }
  }
  return {
    at: row.at,
    windowMs: since ? Math.max(0, row.at.getTime() - since.getTime()) : 0,
    authorized,
    declined,
    pending: row.pending,
    oldestPendingAgeMs: row.oldest_pending
      ? Math.max(0, row.at.getTime() - row.oldest_pending.getTime())
      : null,
    deadLetters: row.dead_letters,
  };
}
