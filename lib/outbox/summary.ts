import type { KafkaFailure } from "../kafka/errors.ts";

/**
 * no-slot: OUTBOX_MAX_CONCURRENT_DRAINS drains were already working; this one did nothing.
 * slot-lost: its slot's lease could not be renewed in time (Postgres unreachable, or the
 * lease ran out and another drain took the slot); it stopped claiming.
 */
export type StopReason = "drained" | "time" | "broker-unavailable" | "error" | "no-slot" | "slot-lost";

export interface BatchOutcome {
  claimed: number;
  published: number;
  /** Event-specific failures that will be tried again after their backoff. */
  retried: number;
  deadLettered: number;
  /** Given back untouched: held behind a failed event of their aggregate, or not sent in an outage. */
  released: number;
  /** Waiting, attempts untouched, because their topic does not exist (see missingTopics). */
  parked: number;
  /** Topics found missing (each once); empty when none was. */
  missingTopics: string[];
  /** Set when Kafka as a whole could not be reached; the batch was given back. */
  unavailable?: KafkaFailure;
}

export interface DrainSummary extends Omit<BatchOutcome, "unavailable"> {
  batches: number;
  durationMs: number;
  /** Age of the oldest event still pending when the run ended (0 when none). */
  lagMs: number;
  stoppedBy: StopReason;
  error?: string;
}

/** A summary before any batch: zero counts, ending as `stoppedBy` unless the run says otherwise. */
export function emptySummary(stoppedBy: StopReason): DrainSummary {
  return {
    claimed: 0,
    published: 0,
    retried: 0,
    deadLettered: 0,
    released: 0,
    parked: 0,
    missingTopics: [],
    batches: 0,
    durationMs: 0,
    lagMs: 0,
    stoppedBy,
  };
}
