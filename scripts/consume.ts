/**
 * Sample consumer: `npm run consume`. Reads the payment topics and the DLQ,
 * validates every message, processes each event id once (inbox table) and
 * prints a line per message. Settings: DATABASE_URL, KAFKA_*, OUTBOX_TOPIC_PREFIX,
 * CONSUMER_GROUP_ID, CONSUMER_FROM_BEGINNING (see lib/config.ts).
 */
import { consumerConfig, databaseConfig, kafkaConfig, outboxConfig } from "../lib/config.ts";
import { createEventTotalsTable, eventTotalsEffect } from "../lib/consumer/event-totals.ts";
import { InboxProcessor } from "../lib/consumer/inbox.ts";
import { describeResult, ensureTopics, startInboxConsumer } from "../lib/consumer/run.ts";
import { createPool } from "../lib/db/pool.ts";
import { PAYMENT_EVENT_TYPES } from "../lib/events/types.ts";
import { createEventValidators } from "../lib/events/validators.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { topicFor } from "../lib/kafka/messages.ts";
import { runCli } from "./support/cli.ts";

await runCli("consume", ["postgres", "kafka"], async () => {
  const outbox = outboxConfig();
  const consumer = consumerConfig();
  const pool = createPool(databaseConfig());
  const topics = [...PAYMENT_EVENT_TYPES.map((type) => topicFor(outbox.topicPrefix, type)), outbox.dlqTopic];
  await createEventTotalsTable(pool);
  const processor = new InboxProcessor(
    pool,
    consumer.groupId,
    createEventValidators(),
    outbox.dlqTopic,
    eventTotalsEffect(consumer.groupId),
  );

  const kafka = createKafka(kafkaConfig());
  const created = await ensureTopics(kafka, topics);
  if (created.length > 0) console.error(`created topics ${created.join(", ")}`);
  const running = await startInboxConsumer({
    kafka,
    groupId: consumer.groupId,
    topics,
    processor,
    fromBeginning: consumer.fromBeginning,
    onResult: (result, message) => console.log(describeResult(result, message)),
  });
  console.error(`consuming ${topics.join(", ")} as ${consumer.groupId}; Ctrl-C to stop`);

  async function stop(): Promise<void> {
    await running.disconnect();
    await pool.end();
  }
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
});
