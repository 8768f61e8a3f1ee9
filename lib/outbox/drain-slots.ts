import type { Pool, PoolClient } from "../db/pool.ts";

// Advisory lock key space of drain slots ("outb"): (class, slot number).
const SLOT_LOCK_CLASS = 0x6f757462;

// Stops at the first slot it gets (LIMIT pulls one row at a time), so a
// drain never holds two.
const ACQUIRE_SQL = `
  SELECT slot FROM generate_series(0, $1::int - 1) AS slot
  WHERE pg_try_advisory_lock(${SLOT_LOCK_CLASS}, slot)
  LIMIT 1`;

const RELEASE_SQL = `SELECT pg_advisory_unlock(${SLOT_LOCK_CLASS}, $1::int)`;

export interface DrainSlot {
  slot: number;
  release(): Promise<void>;
}

/**
 * At most `max` drains work at once, whichever runtime starts them (AWS,
 * LocalStack, serverless-offline): each holds a session-level advisory lock
 * on one of `max` slots for its whole run, on a connection of its own. A
 * drain whose process dies loses its connection, and the slot with it.
 */
export class DrainSlots {
  constructor(
    private readonly pool: Pool,
    readonly max: number,
  ) {}

  /** A free slot, or undefined at once when all are taken. */
  async tryAcquire(): Promise<DrainSlot | undefined> {
    const client: PoolClient = await this.pool.connect();
    let slot: number | undefined;
    try {
      const { rows } = await client.query<{ slot: number }>(ACQUIRE_SQL, [this.max]);
      slot = rows[0]?.slot;
    } catch (error) {
      client.release(true);
      throw error;
    }
    if (slot === undefined) {
      client.release();
      return undefined;
    }
    const held = slot;
    return {
      slot: held,
      async release() {
        try {
          await client.query(RELEASE_SQL, [held]);
          client.release();
        } catch {
          // Closing the session frees its advisory locks.
          client.release(true);
        }
      },
    };
  }

  /** Slots held right now, across all sessions (for tests and monitoring). */
  async held(): Promise<number> {
    const { rows } = await this.pool.query<{ held: number }>(
      `SELECT count(*)::int AS held FROM pg_locks
       WHERE locktype = 'advisory' AND granted AND classid = ${SLOT_LOCK_CLASS}::oid AND objsubid = 2
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return rows[0]?.held ?? 0;
  }
}
