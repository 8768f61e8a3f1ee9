import type { Clock } from "../clock.ts";
import type { RetentionConfig } from "../config.ts";
import type { Log } from "../logging.ts";
import { silentLog } from "../logging.ts";
import { RETENTION_TABLES, type RetentionRepository, type RetentionTable } from "./retention-repository.ts";

export type RetainedTable = RetentionTable | "outbox";
export const RETAINED_TABLES: readonly RetainedTable[] = ["outbox", ...RETENTION_TABLES];

/** caught-up: nothing past retention was left; time: the run's time budget ran out first. */
export type RetentionStopReason = "caught-up" | "time";

export interface RetentionSummary {
  /** Rows deleted by this run, per table. */
  deleted: Record<RetainedTable, number>;
  stoppedBy: RetentionStopReason;
  durationMs: number;
  /**
   * Per table, how long ago the oldest row still there became due for
   * deletion (0: none is due). The figure to alarm on: it stays near 0 while
   * retention keeps up and grows as long as it does not.
   */
  lagMs: Record<RetainedTable, number>;
}

export interface RetentionRunOptions {
  /** Time left before the run must be over (the Lambda's remaining time); default: no limit. */
  remainingMs?: () => number;
}

/**
 * Deletes what no longer needs keeping: published outbox events past
 * OUTBOX_RETENTION, expired idempotency keys, inbox rows past
 * INBOX_RETENTION, and dead letters redriven longer ago than
 * DEAD_LETTER_RETENTION. Pending, dead-lettered and never-redriven rows stay.
 *
 * Bounded by time, not by a count: it takes one batch from each table in
 * turn (so no table waits behind another's backlog) until every table is
 * caught up or less than RETENTION_TIME_MARGIN_MS of the run's time remains,
 * so it keeps up with any rate the database can delete at, and a run that
 * stops early has made as much progress as its time allowed.
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

  async run(options: RetentionRunOptions = {}): Promise<RetentionSummary> {
    const { repository, clock, config } = this.deps;
    const remainingMs = options.remainingMs ?? (() => Number.POSITIVE_INFINITY);
    const startedMs = performance.now();
    const now = clock.now().getTime();
    const cutoffs: Record<RetainedTable, Date> = {
      outbox: new Date(now - config.outboxMs),
      idempotencyKeys: new Date(now),
      inbox: new Date(now - config.inboxMs),
      redrivenDeadLetters: new Date(now - config.redrivenDeadLetterMs),
    };
    const deleted: Record<RetainedTable, number> = {
      outbox: 0,
      idempotencyKeys: 0,
      inbox: 0,
      redrivenDeadLetters: 0,
    };

    let outboxCursor = 0n;
    const step: Record<RetainedTable, () => Promise<boolean>> = {
      outbox: async () => {
        const window = await repository.deleteOutboxWindow(cutoffs.outbox, outboxCursor, config.batchSize);
        deleted.outbox += window.deleted;
        outboxCursor = window.cursor;
        return window.more;
      },
      ...(Object.fromEntries(
        RETENTION_TABLES.map((table) => [
          table,
          async () => {
            const n = await repository.deleteBatch(table, cutoffs[table], config.batchSize);
            deleted[table] += n;
            return n === config.batchSize;
          },
        ]),
      ) as Record<RetentionTable, () => Promise<boolean>>),
    };

    let stoppedBy: RetentionStopReason = "caught-up";
    let pending = [...RETAINED_TABLES];
    // A table whose last batch came back short has nothing left past its cutoff: no lag to look up.
    const caughtUp = new Set<RetainedTable>();
    while (pending.length > 0) {
      const next: RetainedTable[] = [];
      for (const table of pending) {
        if (remainingMs() <= config.timeMarginMs) {
          stoppedBy = "time";
          break;
        }
        if (await step[table]()) next.push(table);
        else caughtUp.add(table);
      }
      if (stoppedBy === "time") break;
      pending = next;
    }

    const lag = async (table: RetainedTable): Promise<number> => {
      const oldest =
        table === "outbox"
          ? await repository.oldestOutboxDue(cutoffs.outbox, outboxCursor, config.batchSize)
          : await repository.oldestDue(table, cutoffs[table]);
      return oldest === undefined ? 0 : Math.max(0, cutoffs[table].getTime() - oldest.getTime());
    };
    const lagMs = {} as Record<RetainedTable, number>;
    for (const table of RETAINED_TABLES) lagMs[table] = caughtUp.has(table) ? 0 : await lag(table);

    const summary: RetentionSummary = {
      deleted,
      stoppedBy,
      durationMs: Math.round(performance.now() - startedMs),
      lagMs,
    };
    (this.deps.log ?? silentLog).info("retention run finished", { ...summary });
    return summary;
  }
}

/** The largest lag of any table: what the retention alarm watches. */
export function retentionLagMs(summary: RetentionSummary): number {
  return Math.max(...RETAINED_TABLES.map((table) => summary.lagMs[table]));
}
