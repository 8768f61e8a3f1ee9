/**
 * docs/deploying.md's ACL table on a broker that enforces ACLs (KRaft's
 * StandardAuthorizer, nothing allowed without a grant), each login granted
 * exactly what the table says and nothing more: the functions publish (and
 * name a missing topic) but cannot create topics, a consumer reads, and the
 * deployer's login makes and changes topics with the topics step.
 */
import { randomBytes } from "node:crypto";
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  type Kafka,
  ResourcePatternTypes,
} from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kafkaConfig } from "../../lib/config.ts";
import { createKafka } from "../../lib/kafka/client.ts";
import { KafkaTopicMissingError } from "../../lib/kafka/errors.ts";
import { ledgerTopics } from "../../lib/kafka/messages.ts";
import { KafkaPublisher } from "../../lib/kafka/publisher.ts";
import { TopicProvisioningError } from "../../lib/kafka/topic-provisioning.ts";
import { kafkaStatus } from "../../lib/ops/kafka-status.ts";
import { ensureLedgerTopics } from "../../lib/ops/topics.ts";
import { javaMissing } from "../../tools/local-services/kafka/java.ts";
import { type LocalBroker, startLocalBroker } from "../../tools/local-services/kafka/local-broker.ts";
import type { KafkaClientEnv } from "../../tools/local-services/kafka.ts";
import { testKafka } from "../support/kafka-topics.ts";

const PREFIX = `t${randomBytes(4).toString("hex")}.payments`;
const GROUP = "payment-ledger-sample";
const CONSUMER = "payment-consumer";
const DEPLOYER = "ledger-deployer";
const TOPIC_SETTINGS = {
  OUTBOX_TOPIC_PREFIX: PREFIX,
  KAFKA_TOPIC_REPLICATION_FACTOR: "1",
  KAFKA_TOPIC_MIN_INSYNC_REPLICAS: "1",
};

// The ACLs live in the broker's metadata: only a broker this file starts can be set up so.
const noJava = await javaMissing();
if (noJava) console.log(`Kafka ACL test skipped: ${noJava}`);

let broker: LocalBroker;
let admin: Kafka;
const logins = {} as Record<"functions" | "consumer" | "deployer", KafkaClientEnv>;
const publishers: KafkaPublisher[] = [];

function as(user: string, password: string): KafkaClientEnv {
  return { ...broker.env, KAFKA_SASL_USERNAME: user, KAFKA_SASL_PASSWORD: password };
}

type Grant = [AclResourceTypes, string, ResourcePatternTypes, AclOperationTypes[]];

async function grant(user: string, grants: Grant[]): Promise<void> {
  const client = admin.admin();
  await client.connect();
  try {
    await client.createAcls({
      acl: grants.flatMap(([resourceType, resourceName, resourcePatternType, operations]) =>
        operations.map((operation) => ({
          resourceType,
          resourceName,
          resourcePatternType,
          principal: `User:${user}`,
          host: "*",
          operation,
          permissionType: AclPermissionTypes.ALLOW,
        })),
      ),
    });
  } finally {
    await client.disconnect();
  }
}

const topicsOfPrefix = (operations: AclOperationTypes[]): Grant => [
  AclResourceTypes.TOPIC,
  `${PREFIX}.`,
  ResourcePatternTypes.PREFIXED,
  operations,
];

beforeAll(async () => {
  if (noJava) return;
  broker = await startLocalBroker((line) => console.error(`[acl test] ${line}`), { authorize: true });
  admin = testKafka(broker.adminEnv);
  const consumerPassword = randomBytes(18).toString("base64url");
  const deployerPassword = randomBytes(18).toString("base64url");
  await broker.scram.setPassword(CONSUMER, consumerPassword);
  await broker.scram.setPassword(DEPLOYER, deployerPassword);
  logins.functions = broker.env;
  logins.consumer = as(CONSUMER, consumerPassword);
  logins.deployer = as(DEPLOYER, deployerPassword);

  // docs/deploying.md, "2. ACLs", as written there.
  const functionsUser = broker.env.KAFKA_SASL_USERNAME ?? "";
  await grant(functionsUser, [
    topicsOfPrefix([AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE]),
    [
      AclResourceTypes.CLUSTER,
      "kafka-cluster",
      ResourcePatternTypes.LITERAL,
      [AclOperationTypes.IDEMPOTENT_WRITE],
    ],
  ]);
  await grant(CONSUMER, [
    topicsOfPrefix([AclOperationTypes.READ, AclOperationTypes.DESCRIBE]),
    [AclResourceTypes.GROUP, GROUP, ResourcePatternTypes.LITERAL, [AclOperationTypes.READ]],
  ]);
  await grant(DEPLOYER, [
    topicsOfPrefix([
      AclOperationTypes.CREATE,
      AclOperationTypes.DESCRIBE,
      AclOperationTypes.DESCRIBE_CONFIGS,
      AclOperationTypes.ALTER,
    ]),
  ]);
}, 240_000);

afterAll(async () => {
  await Promise.all(publishers.map((p) => p.close().catch(() => undefined)));
  await broker?.stop();
}, 60_000);

function publisherAs(env: KafkaClientEnv): KafkaPublisher {
  const publisher = new KafkaPublisher(
    createKafka(kafkaConfig({ ...env, KAFKA_LOG_LEVEL: "nothing", KAFKA_RETRIES: "2" })),
  );
  publishers.push(publisher);
  return publisher;
}

describe.skipIf(noJava)("the ACLs docs/deploying.md lists, on a broker that enforces them", () => {
  it("the deployer's login makes the topics and adds partitions; the functions' login may not create one", async () => {
    const made = await ensureLedgerTopics({ ...logins.deployer, ...TOPIC_SETTINGS });
    expect(made.ok).toBe(true);
    const topicCount = ledgerTopics({ topicPrefix: PREFIX, dlqTopic: `${PREFIX}.dlq` }).length;
    expect(made.outcomes.map((o) => o.status)).toEqual(Array(topicCount).fill("created"));

    const grown = await ensureLedgerTopics(
      { ...logins.deployer, ...TOPIC_SETTINGS, KAFKA_TOPIC_PARTITIONS: "4" },
      { addPartitions: true },
    );
    expect(grown.outcomes.map((o) => o.status)).toEqual(Array(topicCount).fill("partitions-added"));

    // A DLQ topic nobody made yet, under the granted prefix: the functions' login cannot make it.
    const refused = await ensureLedgerTopics({
      ...logins.functions,
      ...TOPIC_SETTINGS,
      KAFKA_TOPIC_PARTITIONS: "4",
      OUTBOX_DLQ_TOPIC: `${PREFIX}.dlq-not-made`,
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TopicProvisioningError);
    expect((refused as Error).message).toContain("this login may not create topics");
  });

  it("the functions' login publishes idempotently with acks=all, and names a topic that does not exist", async () => {
    const topics = ledgerTopics({ topicPrefix: PREFIX, dlqTopic: `${PREFIX}.dlq` });
    const [authorized, dlq] = [topics[0] as string, topics.at(-1) as string];
    const publisher = publisherAs(logins.functions);
    await publisher.publish([
      { topic: authorized, key: "p-1", value: "authorized", headers: { event_id: "e-1" } },
      { topic: dlq, key: "p-1", value: "dead letter", headers: { event_id: "e-2" } },
    ]);

    // Under the granted prefix, but no event type's: nobody made it.
    const missing = `${PREFIX}.paymentnevermade`;
    const error = await publisherAs(logins.functions)
      .publish([{ topic: missing, key: "p-2", value: "x", headers: {} }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KafkaTopicMissingError);
    expect((error as KafkaTopicMissingError).topics).toEqual([missing]);
  });

  it("the consumer's login reads in its group, and npm run status's offsets work with it", async () => {
    const [authorized] = ledgerTopics({ topicPrefix: PREFIX, dlqTopic: `${PREFIX}.dlq` }) as [string];
    const kafka = testKafka(logins.consumer);
    const consumer = kafka.consumer({ groupId: GROUP, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [authorized], fromBeginning: true });
      const value = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("nothing read within 60 s")), 60_000);
        consumer
          .run({
            eachMessage: async ({ message }) => {
              clearTimeout(timer);
              resolve(message.value?.toString() ?? "");
            },
          })
          .catch(reject);
      });
      expect(value).toBe("authorized");
    } finally {
      await consumer.disconnect();
    }
    const status = await kafkaStatus(kafka, [authorized], GROUP);
    expect(status.topics[0]).toMatchObject({ topic: authorized, exists: true, endOffset: 1 });
  });

  it("grants nothing beyond the table: the functions' login may not consume", async () => {
    const [authorized] = ledgerTopics({ topicPrefix: PREFIX, dlqTopic: `${PREFIX}.dlq` }) as [string];
    const consumer = testKafka(logins.functions).consumer({
      groupId: GROUP,
      allowAutoTopicCreation: false,
      retry: { retries: 0, restartOnFailure: async () => false },
    });
    try {
      const crashed = new Promise<unknown>((resolve) =>
        consumer.on(consumer.events.CRASH, ({ payload }) => resolve(payload.error)),
      );
      const joined = async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [authorized], fromBeginning: true });
        await consumer.run({ eachMessage: async () => undefined });
        return crashed;
      };
      const error = await joined().catch((e: unknown) => e);
      // The broker refuses FindCoordinator (GROUP_AUTHORIZATION_FAILED, no Read on the group);
      // kafkajs reports that as a coordinator it could not find. The consumer's login joined it above.
      expect((error as Error).name).toBe("KafkaJSGroupCoordinatorNotFound");
    } finally {
      await consumer.disconnect();
    }
  });
});
