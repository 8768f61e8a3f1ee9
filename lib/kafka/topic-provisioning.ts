/**
 * Topics made on purpose: creates the ones that do not exist with the given
 * partitions, replication factor and min.insync.replicas, and checks the ones
 * that do against the same settings. Idempotent; it changes an existing topic
 * only to add partitions, and only when asked.
 */

import { setTimeout as sleep } from "node:timers/promises";
import type { Admin, ConfigResourceTypes } from "kafkajs";
import type { TopicsConfig } from "../config.ts";
import { protocolErrorType, UNKNOWN_TOPIC } from "./errors.ts";

export type TopicOutcome =
  | { topic: string; status: "created" | "ok"; notes: string[] }
  | { topic: string; status: "partitions-added"; from: number; notes: string[] }
  | { topic: string; status: "differs"; differences: string[]; notes: string[] };

export interface ProvisionOptions {
  /** Add partitions to an existing topic that has fewer than the settings ask for. */
  addPartitions: boolean;
}

const MIN_INSYNC = "min.insync.replicas";
// kafkajs' ConfigResourceTypes.TOPIC. Its enum is not importable by name from Node's ESM loader
// (kafkajs is CommonJS and its export list defeats Node's static detection).
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/** Why an existing topic's partition count cannot simply be changed to match. */
const KEYS_MOVE =
  "adding partitions moves keys to other partitions: an aggregate's later events may then be read before its earlier ones";

export class TopicProvisioningError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TopicProvisioningError";
  }
}

export async function provisionTopics(
  admin: Admin,
  topics: readonly string[],
  settings: TopicsConfig,
  options: ProvisionOptions,
): Promise<TopicOutcome[]> {
  const existing = new Set(await admin.listTopics());
  const created = new Set<string>();
  for (const topic of topics.filter((t) => !existing.has(t))) {
    // One request per topic, so a refusal names its topic.
    if (await createTopic(admin, topic, settings)) created.add(topic);
  }
  const outcomes: TopicOutcome[] = [];
  for (const topic of topics) {
    const outcome = await checkTopic(admin, topic, settings, options);
    if (outcome.status === "ok" && created.has(topic)) outcomes.push({ ...outcome, status: "created" });
    else outcomes.push(outcome);
  }
  return outcomes;
}

/** True when this call created it; false when someone else did meanwhile. */
async function createTopic(admin: Admin, topic: string, settings: TopicsConfig): Promise<boolean> {
  let created: boolean;
  try {
    created = await admin.createTopics({
      // Waited for below: kafkajs' own wait gives up on the first "unknown topic".
      waitForLeaders: false,
      topics: [
        {
          topic,
          numPartitions: settings.partitions,
          replicationFactor: settings.replicationFactor,
          // Redpanda ignores it (acks=all waits for a Raft majority there).
          configEntries: [{ name: MIN_INSYNC, value: String(settings.minInsyncReplicas) }],
        },
      ],
    });
  } catch (error) {
    throw new TopicProvisioningError(`could not create ${topic}: ${whyRefused(error, settings)}`, {
      cause: error,
    });
  }
  await waitForLeaders(admin, [topic]);
  return created;
}

const LEADERS_TIMEOUT_MS = 60_000;
const LEADERS_POLL_MS = 100;
// What a broker says of a partition while the topic's creation is still reaching it.
const NOT_THERE_YET = new Set([UNKNOWN_TOPIC, "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION"]);

/**
 * Resolves once every partition of `topics` is served: it has a leader, and
 * that leader answers for it (a ListOffsets). A topic just created is not in
 * every broker's metadata at once (KRaft applies it from the metadata log a
 * moment later): the brokers answer "unknown topic", or name a leader that
 * says "not the leader" for a moment. Both are waited out, not failures.
 */
export async function waitForLeaders(
  admin: Admin,
  topics: readonly string[],
  timeoutMs = LEADERS_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let waitingFor: string;
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      const leaderless = metadata.topics.filter(
        (t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0),
      );
      if (leaderless.length === 0) {
        for (const topic of topics) await admin.fetchTopicOffsets(topic);
        return;
      }
      waitingFor = `no leader yet for ${leaderless.map((t) => t.name).join(", ")}`;
    } catch (error) {
      const type = protocolErrorType(error);
      if (!type || !NOT_THERE_YET.has(type)) throw error;
      waitingFor = type;
    }
    if (Date.now() > deadline) {
      throw new TopicProvisioningError(
        `${topics.join(", ")}: created, but not served after ${timeoutMs / 1000} s (${waitingFor})`,
      );
    }
    await sleep(LEADERS_POLL_MS);
  }
}

function whyRefused(error: unknown, settings: TopicsConfig): string {
  const nested = (error as { errors?: unknown[] }).errors?.[0];
  const type = protocolErrorType(nested ?? error);
  const message = error instanceof Error ? error.message : String(error);
  if (type === "INVALID_REPLICATION_FACTOR") {
    return (
      `the cluster cannot hold ${settings.replicationFactor} replicas of each partition ` +
      "(KAFKA_TOPIC_REPLICATION_FACTOR is more than its brokers, or a value Redpanda refuses: it takes odd numbers)"
    );
  }
  if (type === "TOPIC_AUTHORIZATION_FAILED" || type === "CLUSTER_AUTHORIZATION_FAILED") {
    return `${type}: this login may not create topics (it needs Create on the topic or the cluster)`;
  }
  return type ? `${type}: ${message}` : message;
}

async function checkTopic(
  admin: Admin,
  topic: string,
  settings: TopicsConfig,
  options: ProvisionOptions,
): Promise<TopicOutcome> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  const partitions = topics[0]?.partitions ?? [];
  const differences: string[] = [];
  const notes: string[] = [];
  let added: number | undefined;

  if (partitions.length < settings.partitions) {
    if (options.addPartitions) {
      await admin.createPartitions({ topicPartitions: [{ topic, count: settings.partitions }] });
      added = partitions.length;
      notes.push(KEYS_MOVE);
    } else {
      differences.push(
        `${partitions.length} partitions, KAFKA_TOPIC_PARTITIONS is ${settings.partitions} ` +
          `(npm run topics -- --add-partitions adds them; ${KEYS_MOVE})`,
      );
    }
  } else if (partitions.length > settings.partitions) {
    differences.push(
      `${partitions.length} partitions, KAFKA_TOPIC_PARTITIONS is ${settings.partitions} ` +
        "(partitions can never be removed: set KAFKA_TOPIC_PARTITIONS to what the topic has)",
    );
  }

  const replicas = new Set(partitions.map((p) => p.replicas.length));
  if (replicas.size > 0 && ![...replicas].every((n) => n === settings.replicationFactor)) {
    differences.push(
      `replication factor ${[...replicas].sort().join("/")}, KAFKA_TOPIC_REPLICATION_FACTOR is ` +
        `${settings.replicationFactor} (a partition reassignment changes it; this command does not)`,
    );
  }

  const minInsync = await topicConfig(admin, topic, MIN_INSYNC);
  if (minInsync === undefined) {
    notes.push(`the broker reports no ${MIN_INSYNC} (Redpanda: acks=all waits for a majority of replicas)`);
  } else if (minInsync !== String(settings.minInsyncReplicas)) {
    differences.push(
      `${MIN_INSYNC} ${minInsync}, KAFKA_TOPIC_MIN_INSYNC_REPLICAS is ${settings.minInsyncReplicas} ` +
        `(kafka-configs --alter --entity-type topics --entity-name ${topic} --add-config ${MIN_INSYNC}=${settings.minInsyncReplicas})`,
    );
  }

  if (differences.length > 0) return { topic, status: "differs", differences, notes };
  if (added !== undefined) return { topic, status: "partitions-added", from: added, notes };
  return { topic, status: "ok", notes };
}

/** A topic's effective value of `name`, or undefined when the broker does not report one. */
async function topicConfig(admin: Admin, topic: string, name: string): Promise<string | undefined> {
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: [name] }],
    });
    const entry = resources[0]?.configEntries.find((e) => e.configName === name);
    return entry?.configValue ?? undefined;
  } catch (error) {
    // A broker that refuses the name outright has no such setting.
    if (protocolErrorType(error) === "INVALID_CONFIG") return undefined;
    throw error;
  }
}

/** One line per topic, for people. */
export function describeOutcome(outcome: TopicOutcome): string {
  const notes = outcome.notes.map((note) => `\n    note: ${note}`).join("");
  switch (outcome.status) {
    case "created":
      return `created  ${outcome.topic}${notes}`;
    case "ok":
      return `ok       ${outcome.topic}${notes}`;
    case "partitions-added":
      return `added partitions to ${outcome.topic} (it had ${outcome.from})${notes}`;
    case "differs":
      return `DIFFERS  ${outcome.topic}: ${outcome.differences.join("; ")}${notes}`;
  }
}
