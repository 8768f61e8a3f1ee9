import type { Pool } from "../db/pool.ts";
import { toRfc3339 } from "../time.ts";

/** An outbox row a drain holds a lease on. */
export interface ClaimedEvent {
  seq: bigint;
  id: string;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  payload: unknown;
  /** RFC 3339, UTC, with milliseconds, as the envelope carries it. */
  createdAt: string;
  /** Event-specific failures so far. */
  attempts: number;
  /** W3C traceparent of the call that wrote it; undefined for rows written without one. */
  traceparent?: string | undefined;
}

export interface FailedAttempt {
  seq: bigint;
  attempts: number;
  nextAttemptAt: Date;
  error: string;
}

const PENDING = (alias: string) => `${alias}.published_at IS NULL AND ${alias}.dead_lettered_at IS NULL`;

// Every write of the drain commits without waiting for the WAL flush (see the
// function's migration for why that loses nothing). An uncorrelated subquery:
// evaluated once per statement, as a one-time filter, before any row.
const NO_FLUSH_WAIT = "(SELECT commit_without_flush_wait())";

// created_at in whole epoch milliseconds (truncated, as rfc3339() truncates it), formatted by
// toRfc3339: a float8 the driver reads as a number. rfc3339() itself, a SQL function the planner
// does not inline (declared immutable, to_char is not), costs ~2 us of the server's CPU per row
// against ~0.3 us for this.
const CREATED_MS = "floor(extract(epoch FROM o.created_at) * 1000)::float8";

/*
 * Claims whole runs of one aggregate so events of an aggregate leave in seq
 * order, whichever drain takes them:
 *
 * heads    the oldest pending event of each aggregate, if it is due and not
 *          under someone else's lease. FOR UPDATE SKIP LOCKED lets concurrent
 *          drains take disjoint heads without waiting. The "oldest pending
 *          event" probe reads the statement's snapshot, not the locks, so a
 *          head another drain is claiming right now (locked, hence skipped)
 *          still hides its successors: they are never mistaken for heads.
 * runs     each head's later pending events, in order, up to the first one
 *          that is not due (backing off) or is leased to someone else.
 * chosen   all heads, then runs in head order until the batch is full; a run
 *          cut short is still a prefix, so order holds. When the heads fill
 *          the batch alone (a backlog), no run is looked for at all.
 *
 * "Due" is judged by the later of the drain's clock and the database's:
 * events are stamped with the database's microsecond clock, and a drain
 * running within the same millisecond (a nudge right after the commit) or on
 * a host whose clock lags must not pass them over.
 *
 * An aggregate whose oldest event is leased elsewhere or backing off has no
 * head here, so it holds back only its own events. Both scans use the
 * partial indexes on pending rows (outbox_pending for the heads,
 * outbox_pending_by_aggregate for the "oldest" probe and the runs). The probe
 * is a scalar subquery and the final match an = ANY(array) on purpose: they
 * stay per-row index lookups even when the planner has no statistics yet
 * (a freshly filled outbox), where an anti-join plan degrades to O(n^2).
 */
const CLAIM_SQL = `
  WITH heads AS (
    SELECT o.seq, o.aggregate_id
    FROM outbox o
    WHERE ${PENDING("o")}
      AND o.next_attempt_at <= greatest($1, statement_timestamp())
      AND (o.claimed_until IS NULL OR o.claimed_until <= $1)
      AND o.seq <= (
        SELECT oldest.seq FROM outbox oldest
        WHERE oldest.aggregate_id = o.aggregate_id AND ${PENDING("oldest")}
        ORDER BY oldest.seq
        LIMIT 1)
    ORDER BY o.next_attempt_at, o.seq
    LIMIT $2
    FOR UPDATE OF o SKIP LOCKED
  ), runs AS (
    SELECT later.seq, h.seq AS head_seq,
           bool_and(later.next_attempt_at <= greatest($1, statement_timestamp()) AND (later.claimed_until IS NULL OR later.claimed_until <= $1))
             OVER (PARTITION BY h.seq ORDER BY later.seq) AS ready
    FROM heads h
    CROSS JOIN LATERAL (
      SELECT f.seq, f.next_attempt_at, f.claimed_until
      FROM outbox f
      WHERE f.aggregate_id = h.aggregate_id AND f.seq > h.seq AND ${PENDING("f")}
      ORDER BY f.seq
      LIMIT $2
    ) later
    WHERE (SELECT count(*) FROM heads) < $2
  ), followers AS (
    SELECT seq, row_number() OVER (ORDER BY head_seq, seq) AS n FROM runs WHERE ready
  ), chosen AS (
    SELECT seq FROM heads
    UNION ALL
    SELECT seq FROM followers WHERE n <= $2 - (SELECT count(*) FROM heads)
  )
  UPDATE outbox o SET claimed_by = $3, claimed_until = $4
  WHERE o.seq = ANY(ARRAY(SELECT seq FROM chosen)) AND ${PENDING("o")} AND ${NO_FLUSH_WAIT}
  RETURNING o.seq, o.id, o.aggregate_type, o.aggregate_id, o.event_type, o.payload, ${CREATED_MS} AS created_ms, o.attempts, o.traceparent`;

// Published is a fact once Kafka acknowledged, whoever holds the lease now.
const MARK_PUBLISHED_SQL = `
  UPDATE outbox SET published_at = $2, claimed_by = NULL, claimed_until = NULL, last_error = NULL
  WHERE seq = ANY($1::bigint[]) AND ${PENDING("outbox")} AND ${NO_FLUSH_WAIT}`;

// Only our own claim: after a lease ran out the rows may belong to another drain.
const RELEASE_SQL = `
  UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
  WHERE seq = ANY($1::bigint[]) AND claimed_by = $2 AND ${PENDING("outbox")} AND ${NO_FLUSH_WAIT}`;

const RECORD_FAILURES_SQL = `
  UPDATE outbox o
  SET attempts = f.attempts, next_attempt_at = f.next_attempt_at, last_error = f.error,
      claimed_by = NULL, claimed_until = NULL
  FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[]) AS f(seq, attempts, next_attempt_at, error)
  WHERE o.seq = f.seq AND o.claimed_by = $5 AND ${PENDING("o")} AND ${NO_FLUSH_WAIT}`;

const MARK_DEAD_LETTERED_SQL = `
  UPDATE outbox o
  SET dead_lettered_at = $4, attempts = f.attempts, last_error = f.error, claimed_by = NULL, claimed_until = NULL
  FROM unnest($1::bigint[], $2::int[], $3::text[]) AS f(seq, attempts, error)
  WHERE o.seq = f.seq AND ${PENDING("o")} AND ${NO_FLUSH_WAIT}`;

const OLDEST_PENDING_SQL = `SELECT min(created_at) AS oldest FROM outbox WHERE ${PENDING("outbox")}`;

/** An int8[] literal: pg's generic array serialisation escapes element by element. */
function bigintArray(values: readonly bigint[]): string {
  return `{${values.join(",")}}`;
}

interface ClaimRow {
  seq: bigint;
  id: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  payload: unknown;
  created_ms: number;
  attempts: number;
  traceparent: string | null;
}

/** The outbox table as the drain sees it. Times come from the caller's clock. */
export class OutboxRepository {
  constructor(private readonly pool: Pool) {}

  /** Leases up to `limit` due events to `owner` until `leaseUntil`; returned in seq order. */
  async claim(owner: string, limit: number, now: Date, leaseUntil: Date): Promise<ClaimedEvent[]> {
    // Unnamed, as every statement here: a named (server-side prepared) statement lives in one
    // server session, which a transaction-mode pooler does not keep for us (bench:ledger measures
    // what naming would save on a direct connection).
    const { rows } = await this.pool.query<ClaimRow>(CLAIM_SQL, [now, limit, owner, leaseUntil]);
    return rows
      .map((row) => ({
        seq: row.seq,
        id: row.id,
        aggregateType: row.aggregate_type,
        aggregateId: row.aggregate_id,
        eventType: row.event_type,
        payload: row.payload,
        createdAt: toRfc3339(new Date(row.created_ms)),
        attempts: row.attempts,
        traceparent: row.traceparent ?? undefined,
      }))
      .sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  }

  async markPublished(seqs: readonly bigint[], now: Date): Promise<number> {
    if (seqs.length === 0) return 0;
    const result = await this.pool.query(MARK_PUBLISHED_SQL, [bigintArray(seqs), now]);
    return result.rowCount ?? 0;
  }

  /** Gives events back untouched (no attempt counted): they are due again at once. */
  async release(seqs: readonly bigint[], owner: string): Promise<number> {
    if (seqs.length === 0) return 0;
    const result = await this.pool.query(RELEASE_SQL, [bigintArray(seqs), owner]);
    return result.rowCount ?? 0;
  }

  /** Stores failed attempts and when each event may be tried again, and releases them. */
  async recordFailures(failures: readonly FailedAttempt[], owner: string): Promise<number> {
    if (failures.length === 0) return 0;
    const result = await this.pool.query(RECORD_FAILURES_SQL, [
      failures.map((f) => f.seq),
      failures.map((f) => f.attempts),
      failures.map((f) => f.nextAttemptAt),
      failures.map((f) => f.error),
      owner,
    ]);
    return result.rowCount ?? 0;
  }

  async markDeadLettered(
    events: readonly { seq: bigint; attempts: number; error: string }[],
    now: Date,
  ): Promise<number> {
    if (events.length === 0) return 0;
    const result = await this.pool.query(MARK_DEAD_LETTERED_SQL, [
      events.map((e) => e.seq),
      events.map((e) => e.attempts),
      events.map((e) => e.error),
      now,
    ]);
    return result.rowCount ?? 0;
  }

  /** Creation time of the oldest event not yet published or dead-lettered. */
  async oldestPendingCreatedAt(): Promise<Date | undefined> {
    const { rows } = await this.pool.query<{ oldest: Date | null }>(OLDEST_PENDING_SQL);
    return rows[0]?.oldest ?? undefined;
  }
}

/** What the drain needs of the outbox table: the repository above (an in-memory one in unit tests). */
export type Outbox = Pick<OutboxRepository, keyof OutboxRepository>;
