/**
 * Sample consumer: `npm run consume`. Reads the payment topics and the DLQ,
 * validates every message, processes each event id once (inbox table) and
 * prints a line per message. Settings: DATABASE_URL, KAFKA_*, OUTBOX_TOPIC_PREFIX,
 * CONSUMER_GROUP_ID, CONSUMER_FROM_BEGINNING, CONSUMER_PARTITIONS_CONCURRENTLY (see lib/config.ts).
 */
import { parseArgs } from "node:util";
import { consumerConfig, databaseConfig, kafkaConfig, outboxConfig } from "../lib/config.ts";
import { createEventTotalsTable, eventTotalsEffect } from "../lib/consumer/event-totals.ts";
import { InboxProcessor, subscribedTopics } from "../lib/consumer/inbox.ts";
import { assertTopicsExist, describeResult, startInboxConsumer } from "../lib/consumer/run.ts";
import { createPool } from "../lib/db/pool.ts";
import { createEventValidators } from "../lib/events/validators.ts";
import { operatorKafka } from "../lib/kafka/client.ts";
import { runCli } from "./support/cli.ts";

// --until-idle <seconds>: stop once nothing arrived for that long (scripts, CI);
// without it the consumer runs until Ctrl-C.
const { values } = parseArgs({ options: { "until-idle": { type: "string" } } });
const idleSeconds = values["until-idle"] === undefined ? undefined : Number(values["until-idle"]);
if (idleSeconds !== undefined && !(Number.isFinite(idleSeconds) && idleSeconds > 0)) {
  console.error("usage: npm run consume [-- --until-idle <seconds>]");
  process.exit(2);
}

await runCli("consume", ["postgres", "kafka"], async () => {
  const outbox = outboxConfig(process.env);
  const consumer = consumerConfig(process.env);
  const consumerTopics = { prefix: outbox.topicPrefix, dlq: outbox.dlqTopic };
  const topics = subscribedTopics(consumerTopics);
  const kafka = await operatorKafka(kafkaConfig(process.env));
  // Topics are made on purpose (npm run topics); a missing one fails here, named.
  await assertTopicsExist(kafka, topics);
  const pool = createPool(databaseConfig(process.env));
  await createEventTotalsTable(pool);
  const processor = new InboxProcessor({
    pool,
    consumer: consumer.groupId,
    validators: createEventValidators(),
    topics: consumerTopics,
    effect: eventTotalsEffect(consumer.groupId),
  });

  // Declared before the consumer starts: a message may arrive before it is set.
  let idle: NodeJS.Timeout | undefined;
  const running = await startInboxConsumer({
    kafka,
    groupId: consumer.groupId,
    topics,
    processor,
    fromBeginning: consumer.fromBeginning,
    partitionsConcurrently: consumer.partitionsConcurrently,
    onResult: (result, message) => {
      console.log(describeResult(result, message));
      idle?.refresh();
    },
  });
  let stopped = false;
  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    if (idle) clearTimeout(idle);
    await running.disconnect();
    await pool.end();
  }
  idle =
    idleSeconds === undefined
      ? undefined
      : setTimeout(() => {
          console.error(`nothing new for ${idleSeconds} s; stopping`);
          void stop();
        }, idleSeconds * 1000);
  console.error(
    `consuming ${topics.join(", ")} as ${consumer.groupId}; ${idle ? `stops after ${idleSeconds} s idle` : "Ctrl-C to stop"}`,
  );
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
});
