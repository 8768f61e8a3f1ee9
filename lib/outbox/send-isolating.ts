import { classifyKafkaError, type KafkaFailure } from "../kafka/errors.ts";
import type { MessagePublisher } from "../kafka/publisher.ts";
import { byRequestSize } from "../kafka/request-size.ts";
import type { ClaimedEvent } from "./outbox-repository.ts";
import type { Candidate } from "./prepare.ts";

export interface SendResult {
  published: ClaimedEvent[];
  /** Refused by Kafka because of the event itself. */
  failed: { candidate: Candidate; failure: KafkaFailure }[];
  /** Not sent: behind a failed or parked event of their aggregate, or Kafka was unavailable. */
  held: ClaimedEvent[];
  /** Not sent: their topic does not exist. Not the event's fault, and no outage either. */
  parked: ClaimedEvent[];
  /** The topics found missing, each named once. */
  missingTopics: string[];
  unavailable?: KafkaFailure;
}

/**
 * The batch in waves sent one after another, so an aggregate's events reach
 * Kafka in the order they were written even when they go to several topics
 * (a payment's PaymentHeld, then PaymentCaptured, then PaymentRefunded). An
 * aggregate's run of events to one topic stays in one wave: they go to one
 * partition (keyed by the aggregate), which Kafka appends in order and whole
 * or not at all. Where its topic changes, its next event moves to the next
 * wave: records for different topics in one request are appended
 * independently, so the later one could land while the earlier failed; in a
 * later wave it waits for it, and is held if it failed. Batches whose
 * aggregates have one event each, the usual case, are one wave.
 */
export function orderedWaves(candidates: readonly Candidate[]): Candidate[][] {
  const waves: Candidate[][] = [];
  const last = new Map<string, { wave: number; topic: string }>();
  for (const candidate of candidates) {
    const previous = last.get(candidate.event.aggregateId);
    const topic = candidate.message.topic;
    const wave = !previous ? 0 : previous.topic === topic ? previous.wave : previous.wave + 1;
    last.set(candidate.event.aggregateId, { wave, topic });
    let events = waves[wave];
    if (!events) {
      events = [];
      waves[wave] = events;
    }
    events.push(candidate);
  }
  return waves;
}

/**
 * One sendBatch per wave (orderedWaves; split only to stay under the request
 * size cap, in order). When Kafka rejects it because of some record, halve
 * and retry each half to find the culprits: a few extra round trips per bad
 * event instead of one per event. When a topic turns out not to exist, its
 * events are parked and the rest is sent again. Halves go in order, and an
 * aggregate with a failed or parked event (or in `blocked`) sends nothing
 * after it.
 */
export async function sendIsolating(
  publisher: MessagePublisher,
  candidates: readonly Candidate[],
  blocked: Set<string>,
  maxRequestBytes: number,
): Promise<SendResult> {
  const result: SendResult = { published: [], failed: [], held: [], parked: [], missingTopics: [] };
  const missing = new Set<string>();
  const send = async (group: Candidate[]): Promise<void> => {
    const sendable: Candidate[] = [];
    for (const candidate of group) {
      if (missing.has(candidate.message.topic)) {
        // Its aggregate's later events wait behind it, whatever their topic.
        result.parked.push(candidate.event);
        blocked.add(candidate.event.aggregateId);
      } else if (blocked.has(candidate.event.aggregateId) || result.unavailable) {
        result.held.push(candidate.event);
      } else sendable.push(candidate);
    }
    if (sendable.length === 0) return;
    try {
      await publisher.publish(sendable.map((c) => c.message));
      for (const candidate of sendable) result.published.push(candidate.event);
      return;
    } catch (error) {
      const failure = classifyKafkaError(error);
      if (failure.kind === "unavailable") {
        result.unavailable = failure;
        for (const candidate of sendable) result.held.push(candidate.event);
        return;
      }
      if (failure.kind === "missing-topic") {
        for (const topic of failure.topics ?? []) {
          if (!missing.has(topic)) result.missingTopics.push(topic);
          missing.add(topic);
        }
        // Sent again without the missing topics' events (a topic the lookup could not name would loop).
        if (sendable.some((c) => missing.has(c.message.topic))) await send(sendable);
        else {
          result.unavailable = failure;
          for (const candidate of sendable) result.held.push(candidate.event);
        }
        return;
      }
      if (sendable.length === 1) {
        const candidate = sendable[0] as Candidate;
        result.failed.push({ candidate, failure });
        blocked.add(candidate.event.aggregateId);
        return;
      }
      const middle = Math.ceil(sendable.length / 2);
      await send(sendable.slice(0, middle));
      await send(sendable.slice(middle));
    }
  };
  for (const wave of orderedWaves(candidates)) {
    for (const chunk of byRequestSize(wave, (c) => c.message, maxRequestBytes)) await send(chunk);
  }
  return result;
}
