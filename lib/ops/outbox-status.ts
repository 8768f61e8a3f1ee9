/**
 * What an operator asks of the outbox: how much is waiting and for how long,
 * what keeps failing and why, what was dead-lettered and not yet redriven,
 * and how much went out recently. Read-only; every query is bounded.
 */
import type { Pool } from "../db/pool.ts";

export interface AgeBucket {
  /** Upper bound of the bucket in ms (Infinity for the last one). */
  upToMs: number;
  label: string;
  count: number;
}

export interface RetryingEvent {
  eventId: string;
  eventType: string;
  aggregateId: string;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
}

export interface PendingDeadLetter {
  eventId: string;
  eventType: string | null;
  retryCount: number;
  error: string;
  failedAt: string;
  /** Whether it reached the DLQ topic (false: Kafka was down when it was recorded). */
  publishedToDlq: boolean;
}

export interface OutboxStatus {
  at: string;
  pending: { total: number; oldestCreatedAt: string | null; oldestAgeMs: number | null; byAge: AgeBucket[] };
  retrying: { total: number; events: RetryingEvent[] };
  deadLetters: { notRedriven: number; events: PendingDeadLetter[] };
  published: { lastMinute: number; lastHour: number };
}

const BUCKETS: readonly { upToMs: number; label: string }[] = [
  { upToMs: 1_000, label: "< 1 s" },
  { upToMs: 10_000, label: "1–10 s" },
  { upToMs: 60_000, label: "10–60 s" },
  { upToMs: 600_000, label: "1–10 min" },
  { upToMs: Number.POSITIVE_INFINITY, label: "≥ 10 min" },
];

// Pending rows are few (the partial index outbox_pending covers exactly them).
const PENDING_SQL = `
  SELECT count(*)::int AS total,
         min(created_at) AS oldest,
         count(*) FILTER (WHERE $1::timestamptz - created_at < interval '1 second')::int AS b0,
         count(*) FILTER (WHERE $1::timestamptz - created_at >= interval '1 second'
                            AND $1::timestamptz - created_at < interval '10 seconds')::int AS b1,
         count(*) FILTER (WHERE $1::timestamptz - created_at >= interval '10 seconds'
                            AND $1::timestamptz - created_at < interval '1 minute')::int AS b2,
         count(*) FILTER (WHERE $1::timestamptz - created_at >= interval '1 minute'
                            AND $1::timestamptz - created_at < interval '10 minutes')::int AS b3,
         count(*) FILTER (WHERE $1::timestamptz - created_at >= interval '10 minutes')::int AS b4
  FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL`;

// "Retrying": failed at least once for its own reasons and still pending.
const RETRYING_SQL = `
  SELECT id, event_type, aggregate_id, attempts, next_attempt_at, last_error, count(*) OVER ()::int AS total
  FROM outbox
  WHERE published_at IS NULL AND dead_lettered_at IS NULL AND attempts > 0
  ORDER BY next_attempt_at, seq
  LIMIT $1`;

const DEAD_LETTERS_SQL = `
  SELECT event_id, event->>'event_type' AS event_type, retry_count, error, failed_at,
         published_at IS NOT NULL AS published, count(*) OVER ()::int AS total
  FROM dead_letters
  WHERE redriven_at IS NULL
  ORDER BY failed_at, event_id
  LIMIT $1`;

const PUBLISHED_SQL = `
  SELECT count(*) FILTER (WHERE published_at >= $1::timestamptz - interval '1 minute')::int AS last_minute,
         count(*)::int AS last_hour
  FROM outbox
  WHERE published_at >= $1::timestamptz - interval '1 hour' AND published_at <= $1::timestamptz`;

interface PendingRow {
  total: number;
  oldest: Date | null;
  b0: number;
  b1: number;
  b2: number;
  b3: number;
  b4: number;
}

export async function outboxStatus(
  pool: Pool,
  options: { now?: Date; limit?: number } = {},
): Promise<OutboxStatus> {
  const now = options.now ?? new Date();
  const limit = options.limit ?? 20;
  const [pending, retrying, dead, published] = await Promise.all([
    pool.query<PendingRow>(PENDING_SQL, [now]),
    pool.query<{
      id: string;
      event_type: string;
      aggregate_id: string;
      attempts: number;
      next_attempt_at: Date;
      last_error: string | null;
      total: number;
    }>(RETRYING_SQL, [limit]),
    pool.query<{
      event_id: string;
      event_type: string | null;
      retry_count: number;
      error: string;
      failed_at: Date;
      published: boolean;
      total: number;
    }>(DEAD_LETTERS_SQL, [limit]),
    pool.query<{ last_minute: number; last_hour: number }>(PUBLISHED_SQL, [now]),
  ]);
  const p = pending.rows[0] as PendingRow;
  const counts = [p.b0, p.b1, p.b2, p.b3, p.b4];
  return {
    at: now.toISOString(),
    pending: {
      total: p.total,
      oldestCreatedAt: p.oldest ? p.oldest.toISOString() : null,
      oldestAgeMs: p.oldest ? Math.max(0, now.getTime() - p.oldest.getTime()) : null,
      byAge: BUCKETS.map((b, i) => ({ ...b, count: counts[i] ?? 0 })),
    },
    retrying: {
      total: retrying.rows[0]?.total ?? 0,
      events: retrying.rows.map((r) => ({
        eventId: r.id,
        eventType: r.event_type,
        aggregateId: r.aggregate_id,
        attempts: r.attempts,
        nextAttemptAt: r.next_attempt_at.toISOString(),
        lastError: r.last_error,
      })),
    },
    deadLetters: {
      notRedriven: dead.rows[0]?.total ?? 0,
      events: dead.rows.map((r) => ({
        eventId: r.event_id,
        eventType: r.event_type,
        retryCount: r.retry_count,
        error: r.error,
        failedAt: r.failed_at.toISOString(),
        publishedToDlq: r.published,
      })),
    },
    published: {
      lastMinute: published.rows[0]?.last_minute ?? 0,
      lastHour: published.rows[0]?.last_hour ?? 0,
    },
  };
}
