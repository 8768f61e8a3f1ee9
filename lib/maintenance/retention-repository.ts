import type { Pool } from "../db/pool.ts";

/*
 * One bounded DELETE per call: at most $2 rows, chosen by an index so a call
 * costs the same whatever the table's size.
 *
 * outbox       see OUTBOX_WINDOW_SQL.
 * idempotency  expired keys (idempotency_keys_expiry); the write calls'
 *              claim_idempotency_key treats them as absent already.
 * inbox        processed before the cutoff (inbox_processed_at).
 * dead letters redriven before the cutoff (dead_letters_redriven); never-redriven ones are kept.
 */
const DELETE_SQL = {
  // By row, not by key text: keys are per owner, and another owner's live key
  // with the same text must never go with an expired one.
  idempotencyKeys: `
    DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM idempotency_keys WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2))`,
  inbox: `
    DELETE FROM inbox WHERE (consumer, event_id) IN (
      SELECT consumer, event_id FROM inbox WHERE processed_at < $1 ORDER BY processed_at LIMIT $2)`,
  redrivenDeadLetters: `
    DELETE FROM dead_letters WHERE event_id = ANY(ARRAY(
      SELECT event_id FROM dead_letters WHERE redriven_at < $1 ORDER BY redriven_at LIMIT $2))`,
} as const;

/*
 * The oldest row each table still holds that its cutoff $1 says should be
 * gone: what retention is behind by. Each reads the first entry of the index
 * its DELETE uses, so it costs the same whatever the table's size.
 */
const OLDEST_DUE_SQL: Record<keyof typeof DELETE_SQL, string> = {
  idempotencyKeys: "SELECT min(expires_at) AS oldest FROM idempotency_keys WHERE expires_at <= $1",
  inbox: "SELECT min(processed_at) AS oldest FROM inbox WHERE processed_at < $1",
  redrivenDeadLetters: "SELECT min(redriven_at) AS oldest FROM dead_letters WHERE redriven_at < $1",
};

/*
 * The outbox has no index on published_at (it would cost every publish an
 * entry), so retention walks the seq index instead, one window of $2 rows
 * after the cursor $3 at a time, deleting the window's rows published before
 * the cutoff. Rows still pending or dead-lettered are skipped, never deleted.
 * Seq order is creation order, and nothing is published before it is
 * created, so once a window holds no row created before the cutoff, nothing
 * further on can qualify: the walk stops there, and a run over a large
 * table of recent events costs one window.
 */
const OUTBOX_WINDOW_SQL = `
  WITH win AS (
    SELECT seq, created_at, published_at FROM outbox WHERE seq > $3 ORDER BY seq LIMIT $2
  ), gone AS (
    DELETE FROM outbox o USING win WHERE o.seq = win.seq AND win.published_at < $1 RETURNING o.seq
  )
  SELECT (SELECT count(*) FROM gone)::int AS deleted,
         (SELECT max(seq) FROM win) AS last_seq,
         coalesce((SELECT bool_or(created_at < $1) FROM win), false) AS older_rows`;

/*
 * The outbox's oldest due row, looked for where the walk stopped: the next
 * window after the cursor $3. A walk that reached its end leaves nothing due
 * beyond it (see above), so this finds nothing; one stopped by its time
 * budget finds the backlog's front. Bounded by the window, like the walk.
 */
const OUTBOX_OLDEST_DUE_SQL = `
  SELECT min(published_at) AS oldest FROM (
    SELECT published_at FROM outbox WHERE seq > $3 ORDER BY seq LIMIT $2
  ) win WHERE published_at < $1`;

export interface OutboxWindow {
  deleted: number;
  /** Where the walk stands after this window: the last seq it covered. */
  cursor: bigint;
  /** False when nothing further on can be due: the walk is done. */
  more: boolean;
}

export type RetentionTable = keyof typeof DELETE_SQL;
export const RETENTION_TABLES = Object.keys(DELETE_SQL) as RetentionTable[];

export class RetentionRepository {
  constructor(private readonly pool: Pool) {}

  /** Deletes the rows published before `cutoff` among the `limit` rows after seq `after`. */
  async deleteOutboxWindow(cutoff: Date, after: bigint, limit: number): Promise<OutboxWindow> {
    const { rows } = await this.pool.query<{ deleted: number; last_seq: bigint | null; older_rows: boolean }>(
      OUTBOX_WINDOW_SQL,
      [cutoff, limit, after],
    );
    const row = rows[0];
    const last = row?.last_seq ?? null;
    return {
      deleted: row?.deleted ?? 0,
      cursor: last ?? after,
      more: last !== null && row?.older_rows === true,
    };
  }

  /** Deletes up to `limit` rows of `table` past `cutoff`; returns how many went. */
  async deleteBatch(table: RetentionTable, cutoff: Date, limit: number): Promise<number> {
    const { rowCount } = await this.pool.query(DELETE_SQL[table], [cutoff, limit]);
    return rowCount ?? 0;
  }

  /** The time (expiry, processing, redrive) of the oldest row of `table` past `cutoff`; undefined when none. */
  async oldestDue(table: RetentionTable, cutoff: Date): Promise<Date | undefined> {
    const { rows } = await this.pool.query<{ oldest: Date | null }>(OLDEST_DUE_SQL[table], [cutoff]);
    return rows[0]?.oldest ?? undefined;
  }

  /** The publishing time of the oldest outbox row past `cutoff` in the window after `after`. */
  async oldestOutboxDue(cutoff: Date, after: bigint, limit: number): Promise<Date | undefined> {
    const { rows } = await this.pool.query<{ oldest: Date | null }>(OUTBOX_OLDEST_DUE_SQL, [
      cutoff,
      limit,
      after,
    ]);
    return rows[0]?.oldest ?? undefined;
  }
}
