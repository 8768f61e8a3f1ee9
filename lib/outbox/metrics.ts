/**
 * A drain run's summary as metrics: what it claimed, published, retried,
 * released, dead-lettered and parked for a missing topic, how long it took and how far behind the outbox
 * is (age of the oldest pending event), by how the run stopped.
 */
import type { MetricsRecorder } from "../observability/metrics.ts";
import type { DrainSummary } from "./summary.ts";

export function recordDrainRun(recorder: MetricsRecorder, summary: DrainSummary): void {
  recorder.count("DrainRuns", { stoppedBy: summary.stoppedBy });
  if (summary.stoppedBy === "no-slot") return;
  recorder.count("OutboxClaimed", {}, summary.claimed);
  recorder.count("OutboxPublished", {}, summary.published);
  recorder.count("OutboxRetried", {}, summary.retried);
  recorder.count("OutboxReleased", {}, summary.released);
  recorder.count("OutboxDeadLettered", {}, summary.deadLettered);
  // Events waiting because their topic does not exist: alarmed (infra/monitoring.ts).
  recorder.count("KafkaTopicMissing", {}, summary.parked);
  recorder.milliseconds("DrainDuration", {}, summary.durationMs);
  recorder.milliseconds("OutboxLag", {}, summary.lagMs);
}
