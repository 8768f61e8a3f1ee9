/**
 * Sorts a failed produce into "the cluster is not there", "a topic is not
 * there" and "this message is wrong". kafkajs reports a failed request as one
 * error (the first failing partition's code, wrapped in retry errors), so the
 * protocol error type is looked up along the cause chain.
 */
import { ServiceError } from "../errors.ts";

export type KafkaFailureKind = "unavailable" | "missing-topic" | "event";

export interface KafkaFailure {
  kind: KafkaFailureKind;
  /** The Kafka protocol error type when there is one (e.g. MESSAGE_TOO_LARGE), else the error name. */
  type: string;
  message: string;
  /** missing-topic: the topics that do not exist. */
  topics?: string[];
}

/** What a broker answers for a topic it does not have (and, briefly, for one it is still creating). */
export const UNKNOWN_TOPIC = "UNKNOWN_TOPIC_OR_PARTITION";

/**
 * Topics that do not exist on a cluster that creates none by itself: a
 * deployment step was skipped, not an event or an outage. FAILED_PRECONDITION:
 * nothing the caller sent is at fault, and retrying will not help until
 * someone creates them (npm run topics).
 */
export class KafkaTopicMissingError extends ServiceError {
  constructor(
    readonly topics: readonly string[],
    cause?: unknown,
  ) {
    super(
      "FAILED_PRECONDITION",
      `Kafka topic${topics.length > 1 ? "s" : ""} ${topics.join(", ")} ${topics.length > 1 ? "do" : "does"} not exist; topics are created on purpose: run npm run topics`,
      { cause },
    );
    this.name = "KafkaTopicMissingError";
  }
}

/** The missing topics an error (or one of its causes) names, or undefined when it is about something else. */
export function missingTopicsOf(error: unknown): readonly string[] | undefined {
  let current: unknown = error;
  for (let depth = 0; typeof current === "object" && current !== null && depth < 10; depth += 1) {
    if (current instanceof KafkaTopicMissingError) return current.topics;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

// Produce errors caused by the records themselves or by their topic: sending
// the same records again will fail the same way, so they cost an attempt.
// Not TOPIC_AUTHORIZATION_FAILED: a missing ACL is a deployment step skipped,
// like a missing topic; charging it to the events would dead-letter good ones.
const EVENT_ERROR_TYPES = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "INVALID_TIMESTAMP",
  "UNSUPPORTED_FOR_MESSAGE_FORMAT",
  "INVALID_TOPIC_EXCEPTION",
  "POLICY_VIOLATION",
]);

interface ErrorLike {
  name?: unknown;
  type?: unknown;
  message?: unknown;
  cause?: unknown;
}

function asErrorLike(value: unknown): ErrorLike | undefined {
  return typeof value === "object" && value !== null ? (value as ErrorLike) : undefined;
}

/** The first Kafka protocol error type on the cause chain (bounded: chains can be cyclic). */
export function protocolErrorType(error: unknown): string | undefined {
  let current = asErrorLike(error);
  for (let depth = 0; current && depth < 10; depth += 1) {
    if (typeof current.type === "string") return current.type;
    current = asErrorLike(current.cause);
  }
  return undefined;
}

/**
 * A KafkaTopicMissingError (the publisher looked the topics up after an
 * UNKNOWN_TOPIC_OR_PARTITION) is "missing-topic". Everything that is not a
 * known record/topic error counts as "unavailable": connection errors,
 * timeouts, leadership changes, not enough replicas, cluster or topic
 * authorization (an ACL not granted yet), an unknown topic the cluster does
 * list (just created), and anything unrecognised. Misjudging an outage as
 * the event's fault would burn attempts and dead-letter good events; the
 * other way round only delays delivery (and shows up as outbox lag).
 */
export function classifyKafkaError(error: unknown): KafkaFailure {
  const like = asErrorLike(error);
  const message = typeof like?.message === "string" ? like.message : String(error);
  const missing = missingTopicsOf(error);
  if (missing) return { kind: "missing-topic", type: UNKNOWN_TOPIC, message, topics: [...missing] };
  const type = protocolErrorType(error);
  if (type && EVENT_ERROR_TYPES.has(type)) return { kind: "event", type, message };
  const name = typeof like?.name === "string" ? like.name : "Error";
  return { kind: "unavailable", type: type ?? name, message };
}
