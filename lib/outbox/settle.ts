/**
 * What becomes of an event that was not delivered: another attempt later, or
 * the dead-letter function. Pure: the drain applies the result.
 */

import { backoffDelayMs } from "../backoff.ts";
import type { LedgerEvent } from "../events/contract.ts";
import { type DeadLetterRequest, deadLetterOf, deadLetterRequest } from "../events/dead-letter.ts";
import { type KafkaFailure, KafkaTopicMissingError } from "../kafka/errors.ts";
import { toRfc3339 } from "../time.ts";
import type { ClaimedEvent, FailedAttempt } from "./outbox-repository.ts";

/** The retry policy, injectable so tests and other deployments can choose their own. */
export interface RetryStrategy {
  /** Event-specific failures after which an event is dead-lettered. */
  maxAttempts: number;
  /** When an event that failed `attempts` times (>= 1) may be tried again. */
  nextAttemptAt(now: Date, attempts: number): Date;
}

/** Exponential backoff with equal jitter (see backoff.ts), capped. */
export function backoffRetryStrategy(
  settings: { maxAttempts: number; backoffBaseMs: number; backoffMaxMs: number },
  random: () => number = Math.random,
): RetryStrategy {
  const policy = { baseMs: settings.backoffBaseMs, maxMs: settings.backoffMaxMs };
  return {
    maxAttempts: settings.maxAttempts,
    nextAttemptAt: (now, attempts) => new Date(now.getTime() + backoffDelayMs(attempts, policy, random)),
  };
}

/** An event Kafka refused because of the event itself (not an outage). */
export interface Rejection {
  event: ClaimedEvent;
  /** The event that was sent; its dead letter carries its fields. */
  envelope: LedgerEvent;
  failure: KafkaFailure;
}

export interface DeadLetterHandOff {
  event: ClaimedEvent;
  request: DeadLetterRequest;
  /** Stored as the outbox row's last error. */
  error: string;
}

export interface Settlement {
  retries: FailedAttempt[];
  deadLetters: DeadLetterHandOff[];
}

/** Each rejected event gets attempts + 1 and a retry time, or is dead-lettered once attempts are used up. */
export function settleRejections(
  rejections: readonly Rejection[],
  now: Date,
  strategy: RetryStrategy,
): Settlement {
  const settlement: Settlement = { retries: [], deadLetters: [] };
  for (const { event, envelope, failure } of rejections) {
    const attempts = event.attempts + 1;
    const error = `${failure.type}: ${failure.message}`;
    if (attempts >= strategy.maxAttempts) {
      const reason = `${error} (after ${attempts} attempts)`;
      settlement.deadLetters.push({
        event,
        request: deadLetterRequest(
          deadLetterOf(envelope, { error: reason, failedAt: toRfc3339(now), retryCount: attempts }),
          event.traceparent,
        ),
        error,
      });
    } else {
      settlement.retries.push({
        seq: event.seq,
        attempts,
        nextAttemptAt: strategy.nextAttemptAt(now, attempts),
        error,
      });
    }
  }
  return settlement;
}

/** The dead-letter function did not take it: the attempt stays counted, and the next failure hands it over again. */
export function retryAfterFailedHandOff(
  handOff: DeadLetterHandOff,
  reason: unknown,
  now: Date,
  strategy: RetryStrategy,
): FailedAttempt {
  const attempts = handOff.request.retry_count;
  return {
    seq: handOff.event.seq,
    attempts,
    nextAttemptAt: strategy.nextAttemptAt(now, attempts),
    error: `${handOff.error}; dead-letter invoke failed: ${String(reason)}`,
  };
}

/** A poison event whose hand-off failed waits a while; it was never sent, so no attempt is counted. */
export function retryPoisonLater(
  poison: { event: ClaimedEvent; error: string },
  now: Date,
  strategy: RetryStrategy,
): FailedAttempt {
  const attempts = poison.event.attempts;
  return {
    seq: poison.event.seq,
    attempts,
    nextAttemptAt: strategy.nextAttemptAt(now, Math.max(1, attempts)),
    error: `${poison.error}; dead-letter invoke failed`,
  };
}

/**
 * Events whose topic does not exist wait `delayMs` with their attempts
 * untouched: the event is not at fault, so nothing burns an attempt or
 * reaches the dead letters, and once the topic is made they go by themselves.
 */
export function parkForMissingTopics(
  events: readonly ClaimedEvent[],
  topics: readonly string[],
  now: Date,
  delayMs: number,
): FailedAttempt[] {
  const nextAttemptAt = new Date(now.getTime() + delayMs);
  const error = new KafkaTopicMissingError(topics).message;
  return events.map((event) => ({ seq: event.seq, attempts: event.attempts, nextAttemptAt, error }));
}
