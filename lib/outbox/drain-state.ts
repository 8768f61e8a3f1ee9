import type { Pool } from "../db/pool.ts";

// Wins for at most one caller per interval across every container, and none
// while a drain reported the broker down. A losing call writes nothing, and
// never waits: a row another session holds (a nudge or a drain reporting on
// the broker at this moment) loses at once, so the throttle cannot stall a
// payment's answer however long that session keeps it.
const CLAIM_NUDGE_SQL = `
  UPDATE outbox_drain_state s SET last_nudge_at = clock_timestamp()
  FROM (
    SELECT id FROM outbox_drain_state
    WHERE id AND last_nudge_at <= clock_timestamp() - $1::int * interval '1 millisecond'
      AND broker_down_until <= clock_timestamp()
    FOR UPDATE SKIP LOCKED
  ) free
  WHERE s.id = free.id
  RETURNING true AS won`;

const BROKER_DOWN_SQL = `
  UPDATE outbox_drain_state SET broker_down_until = clock_timestamp() + $1::int * interval '1 millisecond'
  WHERE id`;

// Only writes when there is something to clear.
const BROKER_UP_SQL = `
  UPDATE outbox_drain_state SET broker_down_until = '-infinity'
  WHERE id AND broker_down_until > clock_timestamp()`;

// A running nudged drain keeps the throttle for itself (the nudges would only start drains
// that find nothing it does not find): last_nudge_at moved to now, never back. Returned in
// epoch microseconds, exactly, so the release below can tell whether anyone moved it since.
// Like the drain's other writes, it commits without waiting for the WAL flush: one lost in
// a crash only lets a nudge through.
const HOLD_NUDGE_SQL = `
  UPDATE outbox_drain_state SET last_nudge_at = greatest(last_nudge_at, clock_timestamp())
  WHERE id AND (SELECT commit_without_flush_wait())
  RETURNING (extract(epoch FROM last_nudge_at) * 1000000)::int8 AS held_us`;

// Lets the throttle go when that drain ends, unless someone took it since: the next payment nudges at once.
// Already let go ('-infinity', by another nudged drain): nothing to do. The CASE keeps the infinite
// value from the int8 cast, which would fail.
const RELEASE_NUDGE_SQL = `
  UPDATE outbox_drain_state SET last_nudge_at = '-infinity'
  WHERE id
    AND CASE WHEN isfinite(last_nudge_at) THEN (extract(epoch FROM last_nudge_at) * 1000000)::int8 = $1 ELSE false END
    AND (SELECT commit_without_flush_wait())`;

/** What drains tell the nudge: when one last ran, and whether the broker is down. */
export class DrainStateRepository {
  constructor(private readonly pool: Pool) {}

  /** True when this caller may start a drain now; false at once when another session holds the row. */
  async claimNudge(minIntervalMs: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(CLAIM_NUDGE_SQL, [minIntervalMs]);
    return (rowCount ?? 0) > 0;
  }

  /** No nudges for `pauseMs`: the schedule keeps probing; a drain that gets through lifts it. */
  async reportBrokerDown(pauseMs: number): Promise<void> {
    await this.pool.query(BROKER_DOWN_SQL, [pauseMs]);
  }

  async reportBrokerUp(): Promise<void> {
    await this.pool.query(BROKER_UP_SQL);
  }

  /** Takes (or keeps) the nudge throttle for a running drain; returns what releaseNudge needs. */
  async holdNudge(): Promise<bigint | undefined> {
    const { rows } = await this.pool.query<{ held_us: bigint }>(HOLD_NUDGE_SQL);
    return rows[0]?.held_us;
  }

  /** Opens the throttle again, unless it was taken since `held` (holdNudge's value). */
  async releaseNudge(held: bigint): Promise<void> {
    await this.pool.query(RELEASE_NUDGE_SQL, [held]);
  }
}
