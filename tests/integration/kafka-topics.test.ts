/**
 * The topics step (npm run topics, run by every deploy) on the shared broker,
 * which creates no topic by itself: it makes every topic the system writes
 * with the settings, is idempotent, reports an existing topic that differs
 * and changes it only to add partitions, and only when asked.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ConfigResourceTypes, type Kafka } from "kafkajs";
import { beforeAll, describe, expect, it } from "vitest";
import { outboxConfig, topicsConfig } from "../../lib/config.ts";
import { EVENT_TYPES } from "../../lib/events/contract.ts";
import { ledgerTopics } from "../../lib/kafka/messages.ts";
import { provisionTopics, TopicProvisioningError } from "../../lib/kafka/topic-provisioning.ts";
import { ensureLedgerTopics } from "../../lib/ops/topics.ts";
import { PROJECT_ROOT } from "../../tools/local-services/offline.ts";
import { createTopics, sharedKafkaEnv, testKafka, uniqueTopicPrefix } from "../support/kafka-topics.ts";

const execFileAsync = promisify(execFile);
const kafkaEnv = sharedKafkaEnv();
// A one-broker cluster's settings, but not the defaults: what was asked for must be what exists.
const SETTINGS = {
  ...kafkaEnv,
  KAFKA_TOPIC_PARTITIONS: "2",
  KAFKA_TOPIC_REPLICATION_FACTOR: "1",
  KAFKA_TOPIC_MIN_INSYNC_REPLICAS: "1",
};

let kafka: Kafka;
beforeAll(() => {
  kafka = testKafka(kafkaEnv);
});

async function describeTopic(
  topic: string,
): Promise<{ partitions: number; replicas: number[]; minInsync?: string }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ["min.insync.replicas"] }],
    });
    const minInsync = resources[0]?.configEntries.find(
      (e) => e.configName === "min.insync.replicas",
    )?.configValue;
    return {
      partitions: meta?.partitions.length ?? 0,
      replicas: [...new Set(meta?.partitions.map((p) => p.replicas.length))],
      ...(minInsync !== undefined && { minInsync }),
    };
  } finally {
    await admin.disconnect();
  }
}

async function withAdmin<T>(work: (admin: ReturnType<Kafka["admin"]>) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

describe("the topics step", () => {
  it("makes every topic the system writes with the settings, and finds them all in order when run again", async () => {
    const prefix = uniqueTopicPrefix();
    const env = { ...SETTINGS, OUTBOX_TOPIC_PREFIX: prefix };
    const topics = ledgerTopics(outboxConfig(env));
    expect(topics).toEqual([
      ...EVENT_TYPES.map((type) => `${prefix}.${type.toLowerCase()}`),
      `${prefix}.dlq`,
    ]);
    expect(topics).toContain(`${prefix}.paymentauthorized`);
    expect(topics).toContain(`${prefix}.paymentrefunded`);

    const first = await ensureLedgerTopics(env);
    expect(first.ok).toBe(true);
    expect(first.outcomes.map((o) => [o.topic, o.status])).toEqual(topics.map((t) => [t, "created"]));
    for (const topic of topics) {
      expect(await describeTopic(topic)).toEqual({ partitions: 2, replicas: [1], minInsync: "1" });
    }

    const again = await ensureLedgerTopics(env);
    expect(again.ok).toBe(true);
    expect(again.outcomes.map((o) => o.status)).toEqual(topics.map(() => "ok"));
  });

  it("reports a topic that differs and changes nothing; adds partitions only when asked", async () => {
    const prefix = uniqueTopicPrefix();
    const env = { ...SETTINGS, OUTBOX_TOPIC_PREFIX: prefix };
    const [authorized] = ledgerTopics(outboxConfig(env)) as [string];
    // Made by hand, before the step: one partition, and min.insync.replicas left at the broker's 1...
    await createTopics(kafka, [authorized], { partitions: 1 });
    // ...while the settings ask for 2 partitions and min.insync.replicas 2 (on one replica: also reported).
    const stricter = { ...env, KAFKA_TOPIC_REPLICATION_FACTOR: "2", KAFKA_TOPIC_MIN_INSYNC_REPLICAS: "2" };
    const checked = await withAdmin((admin) =>
      provisionTopics(admin, [authorized], topicsConfig(stricter), { addPartitions: false }),
    );
    expect(checked).toHaveLength(1);
    const [outcome] = checked;
    expect(outcome?.status).toBe("differs");
    const differences = outcome?.status === "differs" ? outcome.differences : [];
    expect(differences).toEqual([
      expect.stringMatching(
        /^1 partitions, KAFKA_TOPIC_PARTITIONS is 2 \(npm run topics -- --add-partitions adds them; /,
      ),
      expect.stringMatching(/^replication factor 1, KAFKA_TOPIC_REPLICATION_FACTOR is 2 /),
      expect.stringMatching(/^min\.insync\.replicas 1, KAFKA_TOPIC_MIN_INSYNC_REPLICAS is 2 /),
    ]);
    expect(await describeTopic(authorized)).toMatchObject({ partitions: 1 });

    // Asked: partitions added, and only that.
    const step = await ensureLedgerTopics(env, { addPartitions: true });
    expect(step.outcomes.find((o) => o.topic === authorized)).toMatchObject({
      status: "partitions-added",
      from: 1,
    });
    expect(step.ok).toBe(true);
    expect(await describeTopic(authorized)).toEqual({ partitions: 2, replicas: [1], minInsync: "1" });
  });

  it("refuses to make a topic the cluster cannot hold, naming the topic and the setting", async () => {
    const prefix = uniqueTopicPrefix();
    const env = { ...kafkaEnv, OUTBOX_TOPIC_PREFIX: prefix, KAFKA_TOPIC_REPLICATION_FACTOR: "3" };
    const error = await ensureLedgerTopics(env).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TopicProvisioningError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^could not create ${prefix.replace(".", "\\.")}\\.paymentauthorized: the cluster cannot hold 3 replicas`,
      ),
    );
    expect((error as Error).message).toContain("KAFKA_TOPIC_REPLICATION_FACTOR");
  });

  it("npm run topics: one line per topic, exit 0; a topic that differs fails it, saying what to do", async () => {
    const prefix = uniqueTopicPrefix();
    const run = (extra: Record<string, string>) =>
      execFileAsync("sh", ["scripts/ts.sh", "scripts/topics.ts"], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...SETTINGS, OUTBOX_TOPIC_PREFIX: prefix, ...extra },
        timeout: 120_000,
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({
          code: e.code ?? -1,
          stdout: e.stdout ?? "",
          stderr: e.stderr ?? "",
        }),
      );
    const made = await run({});
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain("topics: 2 partitions, replication factor 1, min.insync.replicas 1");
    expect(made.stdout).toMatch(new RegExp(`created +${prefix.replace(".", "\\.")}\\.dlq`));

    const differs = await run({ KAFKA_TOPIC_PARTITIONS: "4" });
    expect(differs.code).toBe(1);
    expect(differs.stdout).toMatch(
      /DIFFERS +\S+\.paymentauthorized: 2 partitions, KAFKA_TOPIC_PARTITIONS is 4/,
    );
    expect(differs.stderr).toContain("topics: some topics differ from the settings");
  });
});
