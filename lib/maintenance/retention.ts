import type { Clock } from "../clock.ts";
import type { RetentionConfig } from "../config.ts";
import type { Log } from "../logging.ts";
import { silentLog } from "../logging.ts";
import { RETENTION_TABLES, type RetentionRepository, type RetentionTable } from "./retention-repository.ts";

export type RetentionSummary = Record<RetentionTable | "outbox", number> & {
  /** True when some table still had rows past retention when the run stopped (max batches). */
  more: boolean;
};

/**
 * Deletes what no longer needs keeping, in bounded batches, table by table:
 * published outbox events past OUTBOX_RETENTION, expired idempotency keys,
 * inbox rows past INBOX_RETENTION, and dead letters redriven longer ago than
 * DEAD_LETTER_RETENTION. Pending, dead-lettered and never-redriven rows stay.
 */
export class RetentionJob {
  constructor(
    private readonly deps: {
      repository: RetentionRepository;
      clock: Clock;
      config: RetentionConfig;
      log?: Log;
    },
  ) {}

  async run(): Promise<RetentionSummary> {
    const { repository, clock, config } = this.deps;
    const now = clock.now().getTime();
    const cutoffs: Record<RetentionTable, Date> = {
      idempotencyKeys: new Date(now),
      inbox: new Date(now - config.inboxMs),
      redrivenDeadLetters: new Date(now - config.redrivenDeadLetterMs),
    };
    const summary = { outbox: 0, idempotencyKeys: 0, inbox: 0, redrivenDeadLetters: 0, more: false };
    let after: bigint | undefined = 0n;
    for (let batch = 0; after !== undefined; batch += 1) {
      if (batch === config.maxBatches) {
        summary.more = true;
        break;
      }
      const window = await repository.deleteOutboxWindow(
        new Date(now - config.outboxMs),
        after,
        config.batchSize,
      );
      summary.outbox += window.deleted;
      after = window.next;
    }
    for (const table of RETENTION_TABLES) {
      for (let batch = 0; ; batch += 1) {
        if (batch === config.maxBatches) {
          summary.more = true;
          break;
        }
        const deleted = await repository.deleteBatch(table, cutoffs[table], config.batchSize);
        summary[table] += deleted;
        if (deleted < config.batchSize) break;
      }
    }
    (this.deps.log ?? silentLog).info("retention run finished", { ...summary });
    return summary;
  }
}
