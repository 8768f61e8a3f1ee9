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
}
