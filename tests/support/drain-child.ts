/**
 * A drain in a child process, for the crash test. With
 * DRAIN_TEST_PAUSE_AFTER_SEND=1 it reports the event ids of its first batch
 * on stdout as soon as Kafka acknowledged them, then waits (before marking
 * them published) to be killed. Only this test script honours that variable.
 * Settings come from the usual env (DATABASE_URL, KAFKA_BROKERS, OUTBOX_*).
 */

import { systemClock } from "../../lib/clock.ts";
import { databaseConfig, kafkaConfig, outboxConfig } from "../../lib/config.ts";
import { createPool } from "../../lib/db/pool.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { createKafka } from "../../lib/kafka/client.ts";
import { HEADER_EVENT_ID } from "../../lib/kafka/messages.ts";
import { KafkaPublisher, type MessagePublisher, type OutgoingMessage } from "../../lib/kafka/publisher.ts";
import { OutboxDrain } from "../../lib/outbox/drain.ts";
import { OutboxRepository } from "../../lib/outbox/outbox-repository.ts";

const pauseAfterSend = process.env.DRAIN_TEST_PAUSE_AFTER_SEND === "1";
const real = new KafkaPublisher(createKafka(kafkaConfig(process.env)));

const publisher: MessagePublisher = {
  async publish(messages: readonly OutgoingMessage[]) {
    await real.publish(messages);
    if (!pauseAfterSend) return;
    process.stdout.write(`${JSON.stringify({ sent: messages.map((m) => m.headers[HEADER_EVENT_ID]) })}\n`);
    // Sent and acknowledged, not yet marked: the parent kills us here.
    await new Promise(() => setInterval(() => undefined, 60_000));
  },
  close: () => real.close(),
};

const pool = createPool(databaseConfig(process.env));
const drain = new OutboxDrain({
  repository: new OutboxRepository(pool),
  publisher,
  deadLetters: {
    async deadLetter(envelope) {
      throw new Error(`crash test expects no dead letters, got ${envelope.event_id}`);
    },
  },
  validators: createEventValidators(),
  clock: systemClock,
  config: outboxConfig(process.env),
  name: `child-${process.pid}`,
});

const summary = await drain.run();
process.stdout.write(`${JSON.stringify({ summary })}\n`);
await publisher.close();
await pool.end();
