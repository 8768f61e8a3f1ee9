/** One dead-letter hand-off as metrics: recorded (new), published to the DLQ topic. */
import type { MetricsRecorder } from "../observability/metrics.ts";
import type { DeadLetterOutcome } from "./service.ts";

export function recordDeadLetter(recorder: MetricsRecorder, outcome: DeadLetterOutcome): void {
  recorder.count("DeadLettersRecorded", {}, outcome.recorded ? 1 : 0);
  recorder.count("DeadLettersPublished", {}, outcome.published ? 1 : 0);
}
