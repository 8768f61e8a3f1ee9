/**
 * A maintenance run as metrics: how it stopped, what it deleted per table,
 * and how far behind retention is (RetentionLag, the largest of the tables'
 * lags), which the retention alarm watches.
 */
import type { MetricsRecorder } from "../observability/metrics.ts";
import { RETAINED_TABLES, type RetentionSummary, retentionLagMs } from "./retention.ts";

export function recordRetentionRun(recorder: MetricsRecorder, summary: RetentionSummary): void {
  recorder.count("RetentionRuns", { stoppedBy: summary.stoppedBy });
  for (const table of RETAINED_TABLES) recorder.count("RetentionDeleted", { table }, summary.deleted[table]);
  recorder.milliseconds("RetentionDuration", {}, summary.durationMs);
  recorder.milliseconds("RetentionLag", {}, retentionLagMs(summary));
}
