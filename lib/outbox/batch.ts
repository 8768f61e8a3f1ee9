import type { Clock } from "../clock.ts";
import type { DeadLetterInvoker } from "../dead-letters/invoker.ts";
import { deadLetterRequest, salvageDeadLetter } from "../events/dead-letter.ts";
import type { EventValidators } from "../events/validators.ts";
import { newId } from "../ids.ts";
import type { MessagePublisher } from "../kafka/publisher.ts";
import type { Log } from "../logging.ts";
import { toRfc3339 } from "../time.ts";
import { handOff } from "./hand-off.ts";
import type { ClaimedEvent, FailedAttempt, Outbox } from "./outbox-repository.ts";
import { type Candidate, type Poison, prepareBatch } from "./prepare.ts";
import type { PublishTiming, PublishTracer } from "./publish-tracer.ts";
import { type SendResult, sendIsolating } from "./send-isolating.ts";
import {
  parkForMissingTopics,
  type RetryStrategy,
  retryAfterFailedHandOff,
  retryPoisonLater,
  settleRejections,
} from "./settle.ts";
import type { BatchOutcome } from "./summary.ts";

export interface BatchSettings {
  batchSize: number;
  leaseMs: number;
  topicPrefix: string;
  maxRequestBytes: number;
  missingTopicRetryMs: number;
}

export interface BatchDependencies {
  repository: Outbox;
  publisher: MessagePublisher;
  deadLetters: DeadLetterInvoker;
  validators: EventValidators;
  clock: Clock;
  config: BatchSettings;
  log: Log;
  retry: RetryStrategy;
  /** Prefix of the lease owner written to claimed_by (each batch adds its own id). */
  name: string;
  publishTracer?: PublishTracer | undefined;
}

/** A claimed batch, its envelopes checked and its poison handed to the dead-letter function: ready to send. */
export interface ReadyBatch {
  owner: string;
  /** Epoch ms of the claim, by the drain's clock (for the events' traces). */
  claimedAt: number;
  events: ClaimedEvent[];
  candidates: Candidate[];
  /** Poison the dead-letter function did not take: it stays pending, and its aggregate sends nothing after it. */
  rejectedPoison: Poison[];
  /** Counts so far (claimed, dead-lettered poison). */
  outcome: BatchOutcome;
}

export interface SentBatch {
  result: SendResult;
  startedAt: number;
  endedAt: number;
}

/**
 * The steps of one batch's life, each a method, so the drain can overlap one
 * batch's with another's (drain.ts):
 *
 *   claim    lease a batch, build and check its envelopes, dead-letter its
 *            poison (it never reaches Kafka, and once it is out of the way
 *            its aggregate's later events may go)
 *   send     one sendBatch for it (split only by request size, or to find a
 *            culprit: send-isolating.ts)
 *   settle   mark what Kafka took; retry or dead-letter what it refused
 *            (settle.ts); park what has no topic; give back what was held
 *   release  give back a batch that was never sent, untouched
 */
export class BatchSteps {
  constructor(private readonly deps: BatchDependencies) {}

  /** Claims and readies one batch; undefined when nothing is due. */
  async claim(): Promise<ReadyBatch | undefined> {
    const { config, repository, clock } = this.deps;
    const owner = `${this.deps.name}/${newId()}`;
    const now = clock.now();
    const leaseUntil = new Date(now.getTime() + config.leaseMs);
    const events = await repository.claim(owner, config.batchSize, now, leaseUntil);
    if (events.length === 0) return undefined;
    const outcome = emptyOutcome(events.length);
    const { candidates, poison } = prepareBatch(events, this.deps.validators, config.topicPrefix);
    const rejectedPoison = await this.deadLetterPoison(poison, outcome);
    return { owner, claimedAt: now.getTime(), events, candidates, rejectedPoison, outcome };
  }

  async send(batch: ReadyBatch): Promise<SentBatch> {
    const { clock, publisher, config } = this.deps;
    const blocked = new Set(batch.rejectedPoison.map((item) => item.event.aggregateId));
    const startedAt = clock.now().getTime();
    const result = await sendIsolating(publisher, batch.candidates, blocked, config.maxRequestBytes);
    return { result, startedAt, endedAt: clock.now().getTime() };
  }

  /** Records what became of every event of a sent batch; returns its outcome. */
  async settle(batch: ReadyBatch, sent: SentBatch): Promise<BatchOutcome> {
    const { repository, clock, log } = this.deps;
    const { outcome } = batch;
    const { result } = sent;
    outcome.published = await repository.markPublished(
      result.published.map((e) => e.seq),
      clock.now(),
    );
    this.traceDelivered(batch.candidates, result.published, {
      startedAt: batch.claimedAt,
      sendStartedAt: sent.startedAt,
      sendEndedAt: sent.endedAt,
      endedAt: clock.now().getTime(),
    });
    await this.settleFailures(result.failed, batch.rejectedPoison, batch.owner, outcome);
    await this.parkMissingTopics(result, batch.owner, outcome);
    outcome.released = await repository.release(
      result.held.map((e) => e.seq),
      batch.owner,
    );
    if (result.unavailable) {
      outcome.unavailable = result.unavailable;
      log.warn("kafka unavailable; batch released without counting attempts", {
        error: result.unavailable,
        released: outcome.released,
      });
    }
    return outcome;
  }

  /** Gives back a batch claimed ahead and never sent (the run stopped first), attempts untouched. */
  async release(batch: ReadyBatch): Promise<BatchOutcome> {
    const { repository, clock, retry } = this.deps;
    // Poison the dead-letter function did not take waits, as settle() would have it wait.
    const now = clock.now();
    await repository.recordFailures(
      batch.rejectedPoison.map((item) => retryPoisonLater(item, now, retry)),
      batch.owner,
    );
    batch.outcome.released = await repository.release(
      batch.candidates.map((c) => c.event.seq),
      batch.owner,
    );
    return batch.outcome;
  }

  /**
   * A topic that does not exist is a deployment step left out (npm run
   * topics), never the event's fault and never a quiet retry: its events wait
   * with attempts untouched, and every batch that meets it says so at error
   * level, naming the topic (the KafkaTopicMissing metric alarms on it).
   */
  private async parkMissingTopics(sent: SendResult, owner: string, outcome: BatchOutcome): Promise<void> {
    if (sent.parked.length === 0) return;
    const now = this.deps.clock.now();
    const parked = parkForMissingTopics(
      sent.parked,
      sent.missingTopics,
      now,
      this.deps.config.missingTopicRetryMs,
    );
    outcome.parked = await this.deps.repository.recordFailures(parked, owner);
    outcome.missingTopics = sent.missingTopics;
    this.deps.log.error(
      "kafka topic missing: its events wait, no attempt counted; create it with npm run topics",
      {
        topics: sent.missingTopics,
        parked: outcome.parked,
        retryAt: toRfc3339(parked[0]?.nextAttemptAt ?? now),
      },
    );
  }

  private traceDelivered(candidates: Candidate[], published: ClaimedEvent[], timing: PublishTiming): void {
    // Without a tracer (tracing off) there is nothing to sort out per event.
    const tracer = this.deps.publishTracer;
    if (published.length === 0 || !tracer) return;
    const delivered = new Set(published);
    try {
      tracer.published(
        candidates.filter((c) => delivered.has(c.event)),
        timing,
      );
    } catch (error) {
      this.deps.log.warn("publish tracing failed", { error: String(error) });
    }
  }

  /** Returns the poison events the dead-letter function did not accept. */
  private async deadLetterPoison(poison: Poison[], outcome: BatchOutcome): Promise<Poison[]> {
    if (poison.length === 0) return [];
    const now = this.deps.clock.now();
    const failedAt = toRfc3339(now);
    const { accepted, rejected } = await handOff(
      this.deps.deadLetters,
      poison.map((item) => ({
        ...item,
        request: deadLetterRequest(
          salvageDeadLetter(this.deps.validators, item.event.id, item.envelope, {
            error: item.error,
            failedAt,
            retryCount: item.event.attempts,
          }),
          item.event.traceparent,
        ),
      })),
    );
    for (const { item, reason } of rejected) {
      this.deps.log.error("dead-letter invoke failed", { eventId: item.event.id, error: String(reason) });
    }
    outcome.deadLettered += await this.deps.repository.markDeadLettered(
      accepted.map((item) => ({ seq: item.event.seq, attempts: item.event.attempts, error: item.error })),
      now,
    );
    for (const item of accepted) {
      this.deps.log.warn("poison event dead-lettered", { eventId: item.event.id, error: item.error });
    }
    return rejected.map(({ item }) => item);
  }

  private async settleFailures(
    failed: SendResult["failed"],
    rejectedPoison: Poison[],
    owner: string,
    outcome: BatchOutcome,
  ): Promise<void> {
    const { clock, repository, log, retry } = this.deps;
    const now = clock.now();
    const rejections = failed.map(({ candidate, failure }) => {
      log.warn("kafka rejected event", {
        eventId: candidate.event.id,
        attempts: candidate.event.attempts + 1,
        error: `${failure.type}: ${failure.message}`,
      });
      return { event: candidate.event, envelope: candidate.envelope, failure };
    });
    const settlement = settleRejections(rejections, now, retry);
    const retries: FailedAttempt[] = settlement.retries;

    const { accepted, rejected } = await handOff(this.deps.deadLetters, settlement.deadLetters);
    for (const { item, reason } of rejected) {
      const again = retryAfterFailedHandOff(item, reason, now, retry);
      log.error("dead-letter invoke failed", { eventId: item.event.id, error: again.error });
      retries.push(again);
    }
    for (const item of rejectedPoison) retries.push(retryPoisonLater(item, now, retry));

    outcome.deadLettered += await repository.markDeadLettered(
      accepted.map((item) => ({
        seq: item.event.seq,
        attempts: item.request.retry_count,
        error: item.error,
      })),
      now,
    );
    await repository.recordFailures(retries, owner);
    outcome.retried += retries.length - rejectedPoison.length;
  }
}

function emptyOutcome(claimed: number): BatchOutcome {
  return { claimed, published: 0, retried: 0, deadLettered: 0, released: 0, parked: 0, missingTopics: [] };
}
