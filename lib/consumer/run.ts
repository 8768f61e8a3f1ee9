import type { Consumer, IHeaders, Kafka } from "kafkajs";
import { KafkaTopicMissingError } from "../kafka/errors.ts";
import { continueOrStart, TRACEPARENT_HEADER } from "../observability/trace-context.ts";
import type { InboundMessage, InboxProcessor, ProcessResult } from "./inbox.ts";

export interface InboxConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  processor: InboxProcessor;
  fromBeginning: boolean;
  /** Partitions processed at once, each in order (kafkajs' partitionsConsumedConcurrently); default 1. */
  partitionsConcurrently?: number;
  onResult?: (result: ProcessResult, message: InboundMessage) => void;
}

/**
 * Throws a KafkaTopicMissingError naming any of `topics` that do not exist: a
 * consumer never creates a topic (npm run topics does), and subscribing to
 * one that is missing would only fail later, less clearly.
 */
export async function assertTopicsExist(kafka: Kafka, topics: readonly string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length > 0) throw new KafkaTopicMissingError(missing);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Subscribes and processes each message through the inbox, committing its
 * offset only after the inbox transaction committed. Returns the running
 * consumer; disconnect() stops it.
 */
export async function startInboxConsumer(options: InboxConsumerOptions): Promise<Consumer> {
  const consumer = options.kafka.consumer({ groupId: options.groupId, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: options.partitionsConcurrently ?? 1,
      eachMessage: async ({ topic, partition, message }) => {
        const inbound: InboundMessage = {
          topic,
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: headerTexts(message.headers),
          // Continues the payment's trace: the producer's span is this one's parent.
          trace: continueOrStart(headerText(message.headers, TRACEPARENT_HEADER)),
        };
        const result = await options.processor.process(inbound);
        await consumer.commitOffsets([
          { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
        ]);
        options.onResult?.(result, inbound);
      },
    });
  } catch (error) {
    await consumer.disconnect().catch(() => undefined);
    throw error;
  }
  return consumer;
}

function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/** Every header as text (the first value of a repeated one). */
function headerTexts(headers: IHeaders | undefined): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const name of Object.keys(headers ?? {})) {
    const text = headerText(headers, name);
    if (text !== undefined) texts[name] = text;
  }
  return texts;
}

/** One line per message, for humans; the trace id finds the call that caused it. */
export function describeResult(result: ProcessResult, message: InboundMessage): string {
  const where = `${message.topic}[${message.partition}]@${message.offset}`;
  const trace = message.trace ? ` trace=${message.trace.traceId}` : "";
  if (result.status === "rejected") {
    const kept = result.recorded ? "kept in consumer_dead_letters" : "already in consumer_dead_letters";
    return `rejected   ${where} ${result.reason} (${kept})${trace}`;
  }
  const type =
    result.event.kind === "event"
      ? result.event.event.event_type
      : `DeadLetter(${result.event.letter.event_type || "?"}: ${result.event.letter.error})`;
  return `${result.status.padEnd(10)} ${where} ${result.event.eventId} ${type}${trace}`;
}
