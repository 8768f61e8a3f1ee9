import type { Pool } from "../db/pool.ts";
import { withTransaction } from "../db/transaction.ts";
import { NotFoundError, ServiceError } from "../errors.ts";
import { toRfc3339 } from "../time.ts";

const MARK_REDRIVEN_SQL = "UPDATE dead_letters SET redriven_at = $2 WHERE event_id = $1 RETURNING event_id";

// Due at once, with a clean slate: the event gets the full number of attempts again.
const REQUEUE_SQL = `
  UPDATE outbox
  SET attempts = 0, next_attempt_at = $2, dead_lettered_at = NULL, last_error = NULL,
      claimed_by = NULL, claimed_until = NULL
  WHERE id = $1 AND dead_lettered_at IS NOT NULL
  RETURNING id`;

export interface RedriveResult {
  eventId: string;
  redrivenAt: string;
}

/** Puts a dead-lettered event back into the outbox, in one transaction with the dead letter's note. */
export async function redriveDeadLetter(pool: Pool, eventId: string, now: Date): Promise<RedriveResult> {
  return withTransaction(pool, async (client) => {
    const marked = await client.query(MARK_REDRIVEN_SQL, [eventId, now]);
    if (marked.rowCount === 0) throw new NotFoundError("dead letter", eventId);
    const requeued = await client.query(REQUEUE_SQL, [eventId, now]);
    if (requeued.rowCount === 0) {
      throw new ServiceError(
        "FAILED_PRECONDITION",
        `event ${eventId} is not dead-lettered in the outbox (already redriven, or its hand-off is still being recorded)`,
      );
    }
    return { eventId, redrivenAt: toRfc3339(now) };
  });
}
