/**
 * Sorts a failed produce into "the cluster is not there" and "this message is
 * wrong". kafkajs reports a failed request as one error (the first failing
 * partition's code, wrapped in retry errors), so the protocol error type is
 * looked up along the cause chain.
 */
export type KafkaFailureKind = "unavailable" | "event";

export interface KafkaFailure {
  kind: KafkaFailureKind;
  /** The Kafka protocol error type when there is one (e.g. MESSAGE_TOO_LARGE), else the error name. */
  type: string;
  message: string;
}

// Produce errors caused by the records themselves or by their topic: sending
// the same records again will fail the same way, so they cost an attempt.
const EVENT_ERROR_TYPES = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "INVALID_TIMESTAMP",
  "UNSUPPORTED_FOR_MESSAGE_FORMAT",
  "TOPIC_AUTHORIZATION_FAILED",
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
 * Everything that is not a known record/topic error counts as "unavailable":
 * connection errors, timeouts, leadership changes, not enough replicas,
 * cluster authorization, and anything unrecognised. Misjudging an outage as
 * the event's fault would burn attempts and dead-letter good events; the
 * other way round only delays delivery (and shows up as outbox lag).
 */
export function classifyKafkaError(error: unknown): KafkaFailure {
  const type = protocolErrorType(error);
  const like = asErrorLike(error);
  const message = typeof like?.message === "string" ? like.message : String(error);
  if (type && EVENT_ERROR_TYPES.has(type)) return { kind: "event", type, message };
  const name = typeof like?.name === "string" ? like.name : "Error";
  return { kind: "unavailable", type: type ?? name, message };
}
