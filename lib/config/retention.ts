/** What the maintenance function deletes, and in what steps. */
import {
  type ConfigOf,
  declare,
  duration,
  type Env,
  integer,
  type Reader,
  readAll,
  retired,
} from "./declare.ts";

const READ_BY: readonly Reader[] = ["maintenance"];

export const RETENTION = {
  outboxMs: declare("OUTBOX_RETENTION", duration, {
    default: 7 * 86_400_000,
    doc: "published outbox events are deleted this long after publishing.",
    readBy: READ_BY,
  }),
  inboxMs: declare("INBOX_RETENTION", duration, {
    default: 7 * 86_400_000,
    doc:
      "a consumer's inbox rows are deleted this long after processing. Keep it above the topics' retention: " +
      "an older redelivery could no longer be recognised as a duplicate.",
    readBy: READ_BY,
  }),
  redrivenDeadLetterMs: declare("DEAD_LETTER_RETENTION", duration, {
    default: 30 * 86_400_000,
    doc: "a dead letter is deleted this long after it was redriven. Dead letters never redriven are kept.",
    readBy: READ_BY,
  }),
  batchSize: declare("RETENTION_BATCH_SIZE", integer(1, 100_000), {
    default: 5000,
    doc: "rows per DELETE, so no statement holds locks or WAL for long.",
    readBy: READ_BY,
  }),
  retiredMaxBatches: declare(
    "RETENTION_MAX_BATCHES",
    retired(
      "a maintenance run deletes until it has caught up or its time is spent (RETENTION_TIME_MARGIN_MS)",
    ),
    {
      default: undefined,
      doc: "retired: a run is bounded by time, not by a count of batches.",
      readBy: READ_BY,
    },
  ),
  timeMarginMs: declare("RETENTION_TIME_MARGIN_MS", integer(0), {
    default: 10_000,
    doc:
      "a maintenance run deletes until it has caught up or less Lambda time than this remains (room for a " +
      "statement, DB_STATEMENT_TIMEOUT_MS, and the lag figures); the next run carries on. Bounded by time, not by a count.",
    readBy: READ_BY,
  }),
};

export type RetentionConfig = ConfigOf<typeof RETENTION>;

export function retentionConfig(env: Env): RetentionConfig {
  return readAll(env, RETENTION);
}
