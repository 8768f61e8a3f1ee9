import type { Pool } from "../db/pool.ts";
import { withTransaction } from "../db/transaction.ts";
import type { DeadLetter } from "../events/contract.ts";

// A second hand-off of the same event changes nothing, unless the event was
// redriven since: then this is a new failure and replaces the old record.
const RECORD_SQL = `
  INSERT INTO dead_letters AS d (event_id, event, retry_count, error, failed_at, recorded_at, traceparent)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (event_id) DO UPDATE
    SET event = EXCLUDED.event, retry_count = EXCLUDED.retry_count, error = EXCLUDED.error,
        failed_at = EXCLUDED.failed_at, recorded_at = EXCLUDED.recorded_at,
        traceparent = EXCLUDED.traceparent, published_at = NULL, redriven_at = NULL
    WHERE d.redriven_at IS NOT NULL
  RETURNING event_id`;

const LOCK_SQL =
  "SELECT event, retry_count, error, failed_at, published_at, traceparent FROM dead_letters WHERE event_id = $1 FOR UPDATE";

const MARK_PUBLISHED_SQL = "UPDATE dead_letters SET published_at = $2 WHERE event_id = $1";

/** A dead_letters row as stored: `event` in this release's shape or an older one (lib/events/legacy.ts). */
export interface StoredDeadLetter {
  eventId: string;
  event: unknown;
  retryCount: number;
  error: string;
  failedAt: Date;
  publishedAt: Date | undefined;
  /** The trace its DLQ message continues; undefined for records made before traces were kept. */
  traceparent: string | undefined;
}

interface LockedRow {
  event: unknown;
  retry_count: number;
  error: string;
  failed_at: Date;
  published_at: Date | null;
  traceparent: string | null;
}

export class DeadLetterRepository {
  constructor(private readonly pool: Pool) {}

  /** Returns true when this call created (or, after a redrive, replaced) the record. */
  async record(letter: DeadLetter, traceparent: string, now: Date): Promise<boolean> {
    const { event_id, aggregate_type, aggregate_id, event_type, payload, timestamp } = letter;
    const { rowCount } = await this.pool.query(RECORD_SQL, [
      event_id,
      // The event's envelope fields as the dead letter carries them.
      { event_id, aggregate_type, aggregate_id, event_type, payload, timestamp },
      letter.retry_count,
      letter.error,
      letter.failed_at,
      now,
      traceparent,
    ]);
    return (rowCount ?? 0) > 0;
  }

  /**
   * Runs `work` with the record locked, so concurrent hand-offs of one event
   * publish it once: the second waits, then sees published_at set.
   */
  async withLocked<T>(
    eventId: string,
    work: (stored: StoredDeadLetter | undefined, markPublished: (at: Date) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<LockedRow>(LOCK_SQL, [eventId]);
      const row = rows[0];
      const stored = row
        ? {
            eventId,
            event: row.event,
            retryCount: row.retry_count,
            error: row.error,
            failedAt: row.failed_at,
            publishedAt: row.published_at ?? undefined,
            traceparent: row.traceparent ?? undefined,
          }
        : undefined;
      return work(stored, async (at) => {
        await client.query(MARK_PUBLISHED_SQL, [eventId, at]);
      });
    });
  }
}
