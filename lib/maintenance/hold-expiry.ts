import type { Log } from "../logging.ts";
import { silentLog } from "../logging.ts";

/** What the job needs of the ledger: lib/payments/hold-expiry.ts' expireDueHolds. */
export interface HoldExpirer {
  /** Releases up to `limit` holds past their expiry, each with its event; how many. */
  expireHolds(limit: number): Promise<number>;
}

export interface HoldExpirySummary {
  expired: number;
  /** True when holds were still due when the run stopped (max batches): the next run continues. */
  more: boolean;
}

/**
 * Releases every hold past its expiry, in batches of one transaction each
 * (lib/ledger/sql/033_expire_holds.sql), so a hold's funds are available
 * again within a run's interval of its expiry. It never races a capture or a
 * void into a wrong answer: a hold either of them holds is skipped, and they
 * expire it themselves when they find it past due.
 */
export class HoldExpiryJob {
  private readonly batchSize: number;
  private readonly maxBatches: number;

  constructor(
    private readonly deps: { ledger: HoldExpirer; log?: Log; batchSize?: number; maxBatches?: number },
  ) {
    this.batchSize = deps.batchSize ?? 500;
    this.maxBatches = deps.maxBatches ?? 20;
  }

  async run(): Promise<HoldExpirySummary> {
    const summary = { expired: 0, more: false };
    for (let batch = 0; ; batch += 1) {
      if (batch === this.maxBatches) {
        summary.more = true;
        break;
      }
      const expired = await this.deps.ledger.expireHolds(this.batchSize);
      summary.expired += expired;
      if (expired < this.batchSize) break;
    }
    (this.deps.log ?? silentLog).info("hold expiry run finished", { ...summary });
    return summary;
  }
}
