import { type Log, silentLog } from "../logging.ts";
import type { OutboxDrain, RunOptions } from "./drain.ts";
import type { DrainSlots } from "./drain-slots.ts";
import type { DrainStateRepository } from "./drain-state.ts";
import { renewEvery } from "./renewal.ts";
import { type DrainSummary, emptySummary } from "./summary.ts";

export interface BoundedDrainDependencies {
  drain: Pick<OutboxDrain, "run">;
  slots: DrainSlots;
  state: DrainStateRepository;
  /** How long nudges stop after a run found the broker unavailable. */
  outagePauseMs: number;
  /**
   * The nudge's throttle interval (OUTBOX_NUDGE_MIN_INTERVAL_MS). A lingering
   * (nudged) run holds the throttle while it runs, renewing it every half of
   * this, and lets it go when it ends: while a drain is looking anyway, a
   * nudge would only start a drain that finds no slot or nothing to do.
   * Absent: never held.
   */
  nudgeIntervalMs?: number;
  /** Names the slot's holder (the Lambda log stream), for whoever inspects outbox_drain_slots. */
  name?: string;
  log?: Log;
}

/**
 * A drain run that first takes one of the database's drain slots, and returns
 * at once when none is free: however many invocations the schedule and the
 * nudges start, at most `slots.max` drains claim and send at a time. It also
 * tells the nudge when the broker is down, and when it is back.
 */
export class BoundedDrain {
  private readonly log: Log;

  constructor(private readonly deps: BoundedDrainDependencies) {
    this.log = deps.log ?? silentLog;
  }

  async run(options: RunOptions = {}): Promise<DrainSummary> {
    const slot = await this.deps.slots.tryAcquire(this.deps.name);
    if (!slot) {
      const summary = emptySummary("no-slot");
      this.log.info("outbox drain skipped: every drain slot is taken", {
        ...summary,
        slots: this.deps.slots.max,
      });
      return summary;
    }
    let summary: DrainSummary;
    const nudge = options.linger ? this.holdNudge() : undefined;
    try {
      // No new batch once the slot may be someone else's: the bound holds even when this drain is cut off.
      summary = await this.deps.drain.run({
        ...options,
        stopWhen: () => (slot.held() ? undefined : "slot-lost"),
        ...(nudge && { beforeLastLook: () => nudge.release() }),
      });
    } finally {
      await nudge?.release();
      await slot.release();
    }
    if (summary.stoppedBy === "slot-lost")
      this.log.warn("outbox drain stopped: its slot's lease could not be renewed", { ...summary });
    if (summary.stoppedBy === "broker-unavailable")
      await this.deps.state.reportBrokerDown(this.deps.outagePauseMs);
    else if (summary.published > 0) await this.deps.state.reportBrokerUp();
    return summary;
  }

  /** Renews the nudge throttle until release(), then opens it (best effort: failing that, it expires). */
  private holdNudge(): { release(): Promise<void> } | undefined {
    const intervalMs = this.deps.nudgeIntervalMs;
    if (!intervalMs) return undefined;
    const { state } = this.deps;
    let held: bigint | undefined;
    const renewal = renewEvery(intervalMs / 2, async () => {
      try {
        held = (await state.holdNudge()) ?? held;
      } catch {
        // Postgres unreachable: the throttle runs out by itself and nudges resume.
      }
    });
    return {
      release: async () => {
        await renewal.stop();
        const last = held;
        held = undefined;
        if (last !== undefined) await state.releaseNudge(last).catch(() => undefined);
      },
    };
  }
}
