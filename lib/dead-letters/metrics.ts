/** One dead-letter hand-off as metrics: recorded (new), published to the DLQ topic, or its topic missing. */
import { missingTopicsOf } from "../kafka/errors.ts";
import type { MetricsRecorder } from "../observability/metrics.ts";
import type { DeadLetterOutcome } from "./service.ts";

export function recordDeadLetter(recorder: MetricsRecorder, outcome: DeadLetterOutcome): void {
  recorder.count("DeadLettersRecorded", {}, outcome.recorded ? 1 : 0);
  recorder.count("DeadLettersPublished", {}, outcome.published ? 1 : 0);
}

/** A hand-off that failed: counted when the DLQ topic does not exist (alarmed: infra/monitoring.ts). */
export function recordDeadLetterFailure(recorder: MetricsRecorder, error: unknown): void {
  if (missingTopicsOf(error)) recorder.count("KafkaTopicMissing", {}, 1);
}
