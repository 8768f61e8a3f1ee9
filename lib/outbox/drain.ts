// Over 300 lines on purpose: one drain run step by step (claim, send, settle each outcome); each step's rules live in the modules it imports.
import type { Clock } from "../clock.ts";
import type { OutboxConfig } from "../config.ts";
import type { DeadLetterInvoker } from "../dead-letters/invoker.ts";
import { deadLetterRequest, salvageDeadLetter } from "../events/dead-letter.ts";
import type { EventValidators } from "../events/validators.ts";
import { newId } from "../ids.ts";
import type { MessagePublisher } from "../kafka/publisher.ts";
import { type Log, silentLog } from "../logging.ts";
import { toRfc3339 } from "../time.ts";
import { handOff } from "./hand-off.ts";
import type { ClaimedEvent, FailedAttempt, OutboxRepository } from "./outbox-repository.ts";
import { type Candidate, type Poison, prepareBatch } from "./prepare.ts";
import type { PublishTiming, PublishTracer } from "./publish-tracer.ts";
import { type SendResult, sendIsolating } from "./send-isolating.ts";
import {
  backoffRetryStrategy,
  parkForMissingTopics,
  type RetryStrategy,
  retryAfterFailedHandOff,
  retryPoisonLater,
  settleRejections,
} from "./settle.ts";
import { type BatchOutcome, type DrainSummary, emptySummary } from "./summary.ts";

export type DrainSettings = Pick<
  OutboxConfig,
  | "batchSize"
  | "concurrency"
  | "timeMarginMs"
  | "maxAttempts"
  | "backoffBaseMs"
  | "backoffMaxMs"
  | "leaseMs"
  | "topicPrefix"
  | "maxRequestBytes"
  | "missingTopicRetryMs"
>;

export type { BatchOutcome, DrainSummary, StopReason } from "./summary.ts";

export interface DrainDependencies {
  repository: OutboxRepository;
  publisher: MessagePublisher;
  deadLetters: DeadLetterInvoker;
  validators: EventValidators;
  clock: Clock;
  config: DrainSettings;
  log?: Log;
  /** Jitter source, [0, 1), for the default retry strategy. */
  random?: () => number;
  /** Retry or dead-letter; default: backoff from config (maxAttempts, backoffBaseMs, backoffMaxMs). */
  retry?: RetryStrategy;
  /** Prefix of the lease owner written to claimed_by (a run adds its own id). */
  name?: string;
  /** Told of every delivered batch, for the events' traces (X-Ray); default: nothing. */
  publishTracer?: PublishTracer;
}

export interface RunOptions {
  /** Lambda's context.getRemainingTimeInMillis; unbounded when absent. */
  remainingMs?: () => number;
}

/**
 * Moves due outbox events to Kafka, batch by batch, until nothing is due or
 * the time budget runs out. Safe to run several at once (see the claim query).
 *
 *   published           marked published
 *   broker unreachable  batch released, attempts untouched, run stops
 *   event rejected      the culprit is found by splitting the batch
 *                       (send-isolating.ts); settle.ts decides between a
 *                       retry and the dead-letter function; its aggregate's
 *                       later events in the batch are released
 *   breaks the contract dead-lettered at once (poison)
 *   topic missing       parked for missingTopicRetryMs, attempts untouched,
 *                       with an error naming the topic; its aggregate's later
 *                       events wait behind it; the rest of the batch goes
 */
export class OutboxDrain {
  private readonly log: Log;
  private readonly retry: RetryStrategy;
  private readonly name: string;

  constructor(private readonly deps: DrainDependencies) {
    this.log = deps.log ?? silentLog;
    this.retry = deps.retry ?? backoffRetryStrategy(deps.config, deps.random);
    this.name = deps.name ?? "drain";
  }

  async run(options: RunOptions = {}): Promise<DrainSummary> {
    const started = performance.now();
    const remainingMs = options.remainingMs ?? (() => Number.POSITIVE_INFINITY);
    const summary = emptySummary("drained");
    // Several loops overlap one batch's database work with another's send;
    // they claim disjoint aggregates, exactly like separate drains.
    const loop = async () => {
      while (summary.stoppedBy === "drained") {
        if (remainingMs() <= this.deps.config.timeMarginMs) {
          summary.stoppedBy = "time";
          return;
        }
        let outcome: BatchOutcome;
        try {
          outcome = await this.drainBatch();
        } catch (error) {
          // Postgres unreachable, say: stop the other loops too, and fail the invocation.
          summary.stoppedBy = "error";
          summary.error ??= error instanceof Error ? error.message : String(error);
          throw error;
        }
        if (outcome.claimed === 0) return;
        summary.batches += 1;
        summary.claimed += outcome.claimed;
        summary.published += outcome.published;
        summary.retried += outcome.retried;
        summary.deadLettered += outcome.deadLettered;
        summary.released += outcome.released;
        summary.parked += outcome.parked;
        for (const topic of outcome.missingTopics)
          if (!summary.missingTopics.includes(topic)) summary.missingTopics.push(topic);
        if (outcome.unavailable) {
          summary.stoppedBy = "broker-unavailable";
          summary.error = `${outcome.unavailable.type}: ${outcome.unavailable.message}`;
        }
      }
    };
    try {
      const loops = await Promise.allSettled(Array.from({ length: this.deps.config.concurrency }, loop));
      const failed = loops.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      summary.lagMs = await this.lagMs();
    } finally {
      summary.durationMs = Math.round(performance.now() - started);
      if (summary.stoppedBy === "error") this.log.error("outbox drain failed", { ...summary });
      else if (summary.stoppedBy === "broker-unavailable" || summary.parked > 0)
        this.log.warn(
          summary.parked > 0 ? "outbox drain left events of missing topics" : "outbox drain stopped early",
          { ...summary },
        );
      else this.log.info("outbox drain finished", { ...summary });
    }
    return summary;
  }

  /** Claims one batch and settles every event in it. */
  async drainBatch(): Promise<BatchOutcome> {
    const { config, repository, clock } = this.deps;
    const owner = `${this.name}/${newId()}`;
    const now = clock.now();
    const leaseUntil = new Date(now.getTime() + config.leaseMs);
    const events = await repository.claim(owner, config.batchSize, now, leaseUntil);
    const outcome: BatchOutcome = {
      claimed: events.length,
      published: 0,
      retried: 0,
      deadLettered: 0,
      released: 0,
      parked: 0,
      missingTopics: [],
    };
    if (events.length === 0) return outcome;

    const { candidates, poison } = prepareBatch(events, this.deps.validators, config.topicPrefix);
    // Dead-letter poison first: once it is out of the way, its aggregate's
    // later events in this batch may go. If the hand-off fails it stays
    // pending, and so must they.
    const rejectedPoison = await this.deadLetterPoison(poison, outcome);
    const blocked = new Set(rejectedPoison.map((item) => item.event.aggregateId));

    const sendStartedAt = clock.now().getTime();
    const sent = await sendIsolating(this.deps.publisher, candidates, blocked, config.maxRequestBytes);
    const sendEndedAt = clock.now().getTime();
    outcome.published = await repository.markPublished(
      sent.published.map((e) => e.seq),
      clock.now(),
    );
    this.traceDelivered(candidates, sent.published, {
      startedAt: now.getTime(),
      sendStartedAt,
      sendEndedAt,
      endedAt: clock.now().getTime(),
    });
    await this.settleFailures(sent.failed, rejectedPoison, owner, outcome);
    await this.parkMissingTopics(sent, owner, outcome);
    outcome.released = await repository.release(
      sent.held.map((e) => e.seq),
      owner,
    );
    if (sent.unavailable) {
      outcome.unavailable = sent.unavailable;
      this.log.warn("kafka unavailable; batch released without counting attempts", {
        error: sent.unavailable,
        released: outcome.released,
      });
    }
    return outcome;
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
    this.log.error(
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
      this.log.warn("publish tracing failed", { error: String(error) });
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
      this.log.error("dead-letter invoke failed", { eventId: item.event.id, error: String(reason) });
    }
    outcome.deadLettered += await this.deps.repository.markDeadLettered(
      accepted.map((item) => ({ seq: item.event.seq, attempts: item.event.attempts, error: item.error })),
      now,
    );
    for (const item of accepted) {
      this.log.warn("poison event dead-lettered", { eventId: item.event.id, error: item.error });
    }
    return rejected.map(({ item }) => item);
  }

  private async settleFailures(
    failed: Awaited<ReturnType<typeof sendIsolating>>["failed"],
    rejectedPoison: Poison[],
    owner: string,
    outcome: BatchOutcome,
  ): Promise<void> {
    const { clock, repository } = this.deps;
    const now = clock.now();
    const rejections = failed.map(({ candidate, failure }) => {
      this.log.warn("kafka rejected event", {
        eventId: candidate.event.id,
        attempts: candidate.event.attempts + 1,
        error: `${failure.type}: ${failure.message}`,
      });
      return { event: candidate.event, envelope: candidate.envelope, failure };
    });
    const settlement = settleRejections(rejections, now, this.retry);
    const retries: FailedAttempt[] = settlement.retries;

    const { accepted, rejected } = await handOff(this.deps.deadLetters, settlement.deadLetters);
    for (const { item, reason } of rejected) {
      const retry = retryAfterFailedHandOff(item, reason, now, this.retry);
      this.log.error("dead-letter invoke failed", { eventId: item.event.id, error: retry.error });
      retries.push(retry);
    }
    for (const item of rejectedPoison) retries.push(retryPoisonLater(item, now, this.retry));

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

  private async lagMs(): Promise<number> {
    const oldest = await this.deps.repository.oldestPendingCreatedAt();
    return oldest ? Math.max(0, this.deps.clock.now().getTime() - oldest.getTime()) : 0;
  }
}
