import type { Kafka, Producer, TopicMessages } from "kafkajs";
import { clientProducers, type ProducerSource } from "./client.ts";
import { KafkaTopicMissingError, protocolErrorType, UNKNOWN_TOPIC } from "./errors.ts";
import { keyHashPartitioner } from "./partitioner.ts";

export interface OutgoingMessage {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** Sends messages to Kafka; the seam the drain and the dead-letter function are tested through. */
export interface MessagePublisher {
  /**
   * Sends all messages in one produce round (one request per partition
   * leader), acks=all, keeping the given order within each topic. Throws if
   * any partition failed; some others may then have been written. A topic
   * that does not exist is a KafkaTopicMissingError naming it; none is ever
   * created by a send.
   */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

/** Groups messages by topic, keeping their order (kafkajs keeps it per partition). */
export function toTopicMessages(messages: readonly OutgoingMessage[]): TopicMessages[] {
  const byTopic = new Map<string, TopicMessages>();
  for (const { topic, key, value, headers } of messages) {
    let entry = byTopic.get(topic);
    if (!entry) {
      entry = { topic, messages: [] };
      byTopic.set(topic, entry);
    }
    entry.messages.push({ key, value, headers });
  }
  return [...byTopic.values()];
}

/**
 * An idempotent producer (acks=all, one request in flight, so retries neither
 * duplicate nor reorder within a partition), connected on first use.
 *
 * After a failed send the producer is thrown away: kafkajs rolls back the
 * sequence numbers of every partition in the failed request, including
 * partitions the broker did append, and a later batch reusing those numbers
 * could be taken by the broker for a duplicate and silently dropped. A new
 * producer gets a new producer id, so that cannot happen. For the same reason
 * sends through one publisher never overlap: a send must not pick up sequence
 * numbers from a producer whose previous request just failed.
 */
export class KafkaPublisher implements MessagePublisher {
  private producer: Promise<Producer> | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  private readonly producers: ProducerSource;

  /** A kafkajs client, or a source that builds producers from rotating credentials (kafkaProducers). */
  constructor(kafka: Kafka | ProducerSource) {
    this.producers = "connectProducer" in kafka ? kafka : clientProducers(kafka);
  }

  publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const sent = this.tail.then(() => this.send(messages));
    this.tail = sent.catch(() => undefined);
    return sent;
  }

  private send(messages: readonly OutgoingMessage[]): Promise<void> {
    // A retry after refused credentials goes through a new producer (sendOnce discarded the
    // old one), and may write again what a partition on another broker already took:
    // at least once, as the drain's next round would.
    return this.producers.withCredentials(() => this.sendOnce(messages));
  }

  private async sendOnce(messages: readonly OutgoingMessage[]): Promise<void> {
    const producer = await this.connected();
    try {
      await producer.sendBatch({ acks: -1, topicMessages: toTopicMessages(messages) });
    } catch (error) {
      await this.discard();
      throw await this.explained(error, messages);
    }
  }

  /**
   * kafkajs reports an unknown topic without its name (and retries it as a
   * stale-metadata error): look the batch's topics up, so a missing one is
   * named. A topic the cluster does list was just created, or its metadata
   * is moving: left as it was, a passing error.
   */
  private async explained(error: unknown, messages: readonly OutgoingMessage[]): Promise<unknown> {
    if (protocolErrorType(error) !== UNKNOWN_TOPIC) return error;
    const topics = [...new Set(messages.map((m) => m.topic))];
    const missing = await this.producers.missingTopics(topics).catch(() => []);
    return missing.length > 0 ? new KafkaTopicMissingError(missing, error) : error;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.discard();
  }

  private async connected(): Promise<Producer> {
    if (!this.producer) {
      this.producer = this.producers.connectProducer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: keyHashPartitioner,
        // Topics are made on purpose (npm run topics), even where a broker would make them on demand.
        allowAutoTopicCreation: false,
      });
      // A failed connect must not be cached: the next publish tries again.
      this.producer.catch(() => {
        this.producer = undefined;
      });
    }
    return this.producer;
  }

  private async discard(): Promise<void> {
    const current = this.producer;
    this.producer = undefined;
    if (!current) return;
    const producer = await current.catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
  }
}
