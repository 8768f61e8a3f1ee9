/**
 * The outbox: how the drain claims, sends and retries, the topics it sends
 * to, and the api's nudge. The api (nudge), drainOutbox and deadLetter (the
 * dead-letter topic) each read the whole group.
 */
import {
  boolean,
  type ConfigOf,
  declare,
  type Env,
  integer,
  type Reader,
  read,
  readAll,
  text,
} from "./declare.ts";

const READ_BY: readonly Reader[] = ["api", "drainOutbox", "deadLetter", "scripts"];

const OUTBOX_TOPIC_PREFIX = declare("OUTBOX_TOPIC_PREFIX", text(), {
  default: "payments",
  doc: "topics are <prefix>.<event type lower-cased>.",
  readBy: READ_BY,
});

const OUTBOX_BACKOFF_BASE_MS = declare("OUTBOX_BACKOFF_BASE_MS", integer(1), {
  default: 1000,
  doc: "first retry delay, doubled per attempt (with jitter).",
  readBy: READ_BY,
});

export const OUTBOX = {
  batchSize: declare("OUTBOX_BATCH_SIZE", integer(1, 10_000), {
    default: 1000,
    doc: "events claimed at once and sent in one Kafka request.",
    readBy: READ_BY,
  }),
  maxRequestBytes: declare("OUTBOX_MAX_REQUEST_BYTES", integer(1000), {
    default: 900_000,
    doc:
      "a batch whose records add up to more is sent as several requests, in order, so no partition's " +
      "record batch exceeds the topic's max.message.bytes (1 MiB by default).",
    readBy: READ_BY,
  }),
  concurrency: declare("OUTBOX_DRAIN_CONCURRENCY", integer(1, 16), {
    default: 3,
    doc:
      "batches one invocation keeps in flight: the next batch is claimed while one is sent, and a sent one is " +
      "marked while the next is sent (sends go one at a time, in order). At most one batch waits ahead of the " +
      "send, so a run that meets a broker outage gives back at most two. 1: claim, send, mark, one after another.",
    readBy: READ_BY,
  }),
  timeMarginMs: declare("OUTBOX_TIME_MARGIN_MS", integer(0), {
    default: 10_000,
    doc: "stop claiming when less Lambda time than this remains.",
    readBy: READ_BY,
  }),
  maxAttempts: declare("OUTBOX_MAX_ATTEMPTS", integer(1), {
    default: 5,
    doc: "event-specific failures before the event is dead-lettered.",
    readBy: READ_BY,
  }),
  backoffBaseMs: OUTBOX_BACKOFF_BASE_MS,
  backoffMaxMs: declare("OUTBOX_BACKOFF_MAX_MS", integer(OUTBOX_BACKOFF_BASE_MS), {
    default: 300_000,
    doc: "ceiling of the retry delay.",
    readBy: READ_BY,
  }),
  leaseMs: declare("OUTBOX_LEASE_MS", integer(1000), {
    default: 60_000,
    doc:
      "how long a claim holds. A drain that dies releases its events when this runs out; " +
      "keep it above the Kafka timeouts.",
    readBy: READ_BY,
  }),
  topicPrefix: OUTBOX_TOPIC_PREFIX,
  dlqTopic: declare("OUTBOX_DLQ_TOPIC", text(), {
    default: (env: Env) => `${read(env, OUTBOX_TOPIC_PREFIX)}.dlq`,
    defaultText: "<OUTBOX_TOPIC_PREFIX>.dlq",
    doc: "the dead-letter topic.",
    readBy: READ_BY,
  }),
  missingTopicRetryMs: declare("OUTBOX_MISSING_TOPIC_RETRY_MS", integer(1), {
    default: 60_000,
    doc:
      "an event whose topic does not exist waits this long before the drain tries it again (no attempt counted, " +
      "never dead-lettered; an error log names the topic and KafkaTopicMissing alarms). Once the topic is " +
      "created (npm run topics), delivery resumes by itself.",
    readBy: READ_BY,
  }),
  deadLetterFunctionName: declare("DEAD_LETTER_FUNCTION_NAME", text(), {
    default: "payment-ledger-dev-deadLetter",
    doc: "what drainOutbox invokes with a dead letter.",
    readBy: READ_BY,
    setBy: "serverless.ts",
  }),
  drainFunctionName: declare("DRAIN_OUTBOX_FUNCTION_NAME", text(), {
    default: "payment-ledger-dev-drainOutbox",
    doc: "the nudge's target.",
    readBy: READ_BY,
    setBy: "serverless.ts",
  }),
  nudgeEnabled: declare("OUTBOX_NUDGE_ENABLED", boolean, {
    default: true,
    doc: "the api invokes drainOutbox after a payment commits.",
    readBy: READ_BY,
  }),
  nudgeMinIntervalMs: declare("OUTBOX_NUDGE_MIN_INTERVAL_MS", integer(0), {
    default: 250,
    doc: "at most one nudge per interval, per container and across all containers (a shared row in the database).",
    readBy: READ_BY,
  }),
  pollIntervalMs: declare("OUTBOX_POLL_INTERVAL_MS", integer(0, 10_000), {
    default: 20,
    doc:
      "a nudged drain, once nothing is due, looks again this often until nothing has come for " +
      "OUTBOX_NUDGE_MIN_INTERVAL_MS: events committed while the nudge is throttled are sent within about this " +
      "long instead of waiting for the next nudge. 0: a nudged drain returns as soon as nothing is due.",
    readBy: READ_BY,
  }),
  nudgeTimeoutMs: declare("OUTBOX_NUDGE_TIMEOUT_MS", integer(1, 5000), {
    default: 1000,
    doc:
      "how long a payment's answer may wait for its nudge (the shared throttle, the async invoke and, the " +
      "first time in a container, loading the Lambda SDK), and never into the last LAMBDA_DEADLINE_MARGIN_MS " +
      "of the call's deadline; at most half the api's timeout. The nudge runs once the answer is decided and " +
      "cannot change it; past this time the answer goes out, the nudge carries on unawaited (where Lambda " +
      "freezes the sandbox it may not land) and the schedule delivers regardless.",
    readBy: READ_BY,
  }),
  maxConcurrentDrains: declare("OUTBOX_MAX_CONCURRENT_DRAINS", integer(1, 1000), {
    default: 2,
    doc:
      "drains working at once, on every runtime and behind any pooler (leased slot rows in Postgres); a drain " +
      "finding none free returns at once. One drain keeps up; a second lets a nudge run beside a scheduled " +
      "run. Each holds a Kafka producer.",
    readBy: READ_BY,
  }),
  drainSlotLeaseMs: declare("OUTBOX_DRAIN_SLOT_LEASE_MS", integer(1000), {
    default: 30_000,
    doc:
      "how long a drain's slot is held without a renewal. A running drain renews it every third of this; a " +
      "drain that died (killed, timed out, lost its network) frees its slot when the lease runs out, and one " +
      "that could not renew in time stops claiming.",
    readBy: READ_BY,
  }),
  nudgeOutagePauseMs: declare("OUTBOX_NUDGE_OUTAGE_PAUSE_MS", integer(0), {
    default: 2000,
    doc:
      "no nudges for this long after a drain found the broker unavailable (the schedule keeps probing; a " +
      "drain that publishes lifts the pause), so an outage does not pile up drains.",
    readBy: READ_BY,
  }),
};

export type OutboxConfig = ConfigOf<typeof OUTBOX>;

export function outboxConfig(env: Env): OutboxConfig {
  return readAll(env, OUTBOX);
}
