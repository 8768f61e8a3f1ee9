/** What the maintenance function deletes, and in what steps. */
import { type ConfigOf, declare, duration, type Env, integer, type Reader, readAll } from "./declare.ts";

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
  maxBatches: declare("RETENTION_MAX_BATCHES", integer(1), {
    default: 200,
    doc: "DELETEs per table per run; the next run continues.",
    readBy: READ_BY,
  }),
};

export type RetentionConfig = ConfigOf<typeof RETENTION>;

export function retentionConfig(env: Env): RetentionConfig {
  return readAll(env, RETENTION);
}
