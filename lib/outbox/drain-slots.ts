import type { Pool } from "../db/pool.ts";
import { newId } from "../ids.ts";
import { type Renewal, renewEvery } from "./renewal.ts";

// Slot rows 0..max-1, created on first use: the bound is a setting, not a migration.
const ENSURE_SQL = `
  INSERT INTO outbox_drain_slots (slot) SELECT generate_series(0, $1::int - 1)
  ON CONFLICT (slot) DO NOTHING`;

// One free slot (never held, released, or its lease ran out), below the bound.
// FOR UPDATE SKIP LOCKED: concurrent drains take different slots without
// waiting; a slot another drain took meanwhile is re-checked against its new
// lease and passed over. The database's clock decides every lease.
const ACQUIRE_SQL = `
  UPDATE outbox_drain_slots
  SET holder = $2, held_until = clock_timestamp() + $3::int * interval '1 millisecond'
  WHERE slot = (
    SELECT slot FROM outbox_drain_slots
    WHERE slot < $1 AND held_until <= clock_timestamp()
    ORDER BY slot
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
  RETURNING slot`;

// Only while still ours: after the lease ran out another drain may hold it.
const RENEW_SQL = `
  UPDATE outbox_drain_slots SET held_until = clock_timestamp() + $3::int * interval '1 millisecond'
  WHERE slot = $1 AND holder = $2 AND held_until > clock_timestamp()
  RETURNING slot`;

const RELEASE_SQL = `
  UPDATE outbox_drain_slots SET holder = NULL, held_until = '-infinity'
  WHERE slot = $1 AND holder = $2`;

const HELD_SQL = "SELECT count(*)::int AS held FROM outbox_drain_slots WHERE held_until > clock_timestamp()";

export interface DrainSlot {
  slot: number;
  /**
   * False once the lease may have run out: a renewal found the slot taken,
   * or none succeeded for a whole lease. The drain must stop claiming then.
   */
  held(): boolean;
  /** Gives the slot back (best effort: if this fails, the lease runs out by itself). */
  release(): Promise<void>;
}

/**
 * At most `max` drains work at once, whichever runtime starts them (AWS,
 * LocalStack, serverless-offline) and whatever sits between them and
 * Postgres: each holds one of `max` slot rows under a lease it renews every
 * third of `leaseMs` while it runs. Nothing lives in a session, so this holds
 * behind a transaction-mode pooler (where a session advisory lock would stay
 * on whichever server connection took it) and pins nothing on RDS Proxy. A
 * drain that dies (killed, timed out, cut off) frees its slot when its lease
 * runs out.
 */
export class DrainSlots {
  private ensured = false;

  constructor(
    private readonly pool: Pool,
    readonly max: number,
    readonly leaseMs: number,
  ) {}

  /** A free slot, or undefined at once when all are taken. */
  async tryAcquire(holderName = "drain"): Promise<DrainSlot | undefined> {
    const holder = `${holderName}/${newId()}`;
    const acquired = await this.acquire(holder);
    if (acquired || this.ensured) return acquired;
    // The slot rows are made on first need only: a cold start whose slots exist writes nothing more.
    await this.pool.query(ENSURE_SQL, [this.max]);
    this.ensured = true;
    return this.acquire(holder);
  }

  private async acquire(holder: string): Promise<DrainSlot | undefined> {
    // Measured from before the statement: the database's lease ends no earlier than this.
    const askedAt = performance.now();
    const { rows } = await this.pool.query<{ slot: number }>(ACQUIRE_SQL, [this.max, holder, this.leaseMs]);
    const slot = rows[0]?.slot;
    return slot === undefined ? undefined : new LeasedSlot(this.pool, slot, holder, this.leaseMs, askedAt);
  }

  /** Slots held right now, whatever the bound (for tests and monitoring). */
  async held(): Promise<number> {
    const { rows } = await this.pool.query<{ held: number }>(HELD_SQL);
    return rows[0]?.held ?? 0;
  }
}

class LeasedSlot implements DrainSlot {
  private validUntil: number;
  private lost = false;
  private readonly renewal: Renewal;

  constructor(
    private readonly pool: Pool,
    readonly slot: number,
    private readonly holder: string,
    private readonly leaseMs: number,
    askedAt: number,
  ) {
    this.validUntil = askedAt + leaseMs;
    this.renewal = renewEvery(leaseMs / 3, () => this.renew());
  }

  held(): boolean {
    return !this.lost && performance.now() < this.validUntil;
  }

  async release(): Promise<void> {
    await this.renewal.stop();
    try {
      await this.pool.query(RELEASE_SQL, [this.slot, this.holder]);
    } catch {
      // Postgres unreachable: the lease frees the slot when it runs out.
    }
  }

  private async renew(): Promise<void> {
    if (this.lost) return;
    const askedAt = performance.now();
    try {
      const { rowCount } = await this.pool.query(RENEW_SQL, [this.slot, this.holder, this.leaseMs]);
      if (rowCount) this.validUntil = askedAt + this.leaseMs;
      else this.lost = true;
    } catch {
      // Tried again at the next tick; held() turns false if no renewal lands within the lease.
    }
  }
}
