import { type Log, silentLog } from "../logging.ts";
import type { OutboxDrain, RunOptions } from "./drain.ts";
import type { DrainSlots } from "./drain-slots.ts";
import type { DrainStateRepository } from "./drain-state.ts";
import { type DrainSummary, emptySummary } from "./summary.ts";

export interface BoundedDrainDependencies {
  drain: Pick<OutboxDrain, "run">;
  slots: DrainSlots;
  state: DrainStateRepository;
  /** How long nudges stop after a run found the broker unavailable. */
  outagePauseMs: number;
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
    const slot = await this.deps.slots.tryAcquire();
    if (!slot) {
      const summary = emptySummary("no-slot");
      this.log.info("outbox drain skipped: every drain slot is taken", {
        ...summary,
        slots: this.deps.slots.max,
      });
      return summary;
    }
    let summary: DrainSummary;
    try {
      summary = await this.deps.drain.run(options);
    } finally {
      await slot.release();
    }
    if (summary.stoppedBy === "broker-unavailable")
      await this.deps.state.reportBrokerDown(this.deps.outagePauseMs);
    else if (summary.published > 0) await this.deps.state.reportBrokerUp();
    return summary;
  }
}
