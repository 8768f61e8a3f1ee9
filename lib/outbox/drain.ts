import type { OutboxConfig } from "../config.ts";
import { type DeadLetterEnvelope, type EventEnvelope, toEnvelope } from "../events/envelope.ts";
import type { EventValidators } from "../events/validators.ts";
import { newId } from "../ids.ts";
import { classifyKafkaError, type KafkaFailure } from "../kafka/errors.ts";
import { eventMessage } from "../kafka/messages.ts";
import type { MessagePublisher, OutgoingMessage } from "../kafka/publisher.ts";
import { toRfc3339 } from "../time.ts";
import { backoffDelayMs } from "./backoff.ts";
import type { Clock } from "./clock.ts";
import type { DeadLetterInvoker } from "./dead-letter-invoker.ts";
import { type Log, silentLog } from "./log.ts";
import type { ClaimedEvent, FailedAttempt, OutboxRepository } from "./outbox-repository.ts";

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
>;

export interface DrainDependencies {
  repository: OutboxRepository;
  publisher: MessagePublisher;
  deadLetters: DeadLetterInvoker;
  validators: EventValidators;
  clock: Clock;
  config: DrainSettings;
  log?: Log;
  /** Jitter source, [0, 1). */
  random?: () => number;
  /** Prefix of the lease owner written to claimed_by (a run adds its own id). */
  name?: string;
}

export type StopReason = "drained" | "time" | "broker-unavailable" | "error";

export interface BatchOutcome {
  claimed: number;
  published: number;
  /** Event-specific failures that will be tried again after their backoff. */
  retried: number;
  deadLettered: number;
  /** Given back untouched: held behind a failed event of their aggregate, or not sent in an outage. */
  released: number;
  /** Set when Kafka as a whole could not be reached; the batch was given back. */
  unavailable?: KafkaFailure;
}

export interface DrainSummary extends Omit<BatchOutcome, "unavailable"> {
  batches: number;
  durationMs: number;
  /** Age of the oldest event still pending when the run ended (0 when none). */
  lagMs: number;
  stoppedBy: StopReason;
  error?: string;
}

export interface RunOptions {
  /** Lambda's context.getRemainingTimeInMillis; unbounded when absent. */
  remainingMs?: () => number;
}

interface Candidate {
  event: ClaimedEvent;
  envelope: EventEnvelope;
  message: OutgoingMessage;
}

interface Poison {
  event: ClaimedEvent;
  body: Record<string, unknown>;
  error: string;
}

interface SendResult {
  published: ClaimedEvent[];
  failed: { candidate: Candidate; failure: KafkaFailure }[];
  held: ClaimedEvent[];
  unavailable?: KafkaFailure;
}

/**
 * Moves due outbox events to Kafka, batch by batch, until nothing is due or
 * the time budget runs out. Safe to run several at once (see the claim query).
 *
 *   published           marked published
 *   broker unreachable  batch released, attempts untouched, run stops
 *   event rejected      the culprit is found by splitting the batch; it gets
 *                       attempts+1 and a backoff, or the dead-letter function
 *                       once attempts are used up; its aggregate's later
 *                       events in the batch are released, others published
 *   invalid envelope    dead-lettered at once (poison)
 */
export class OutboxDrain {
  private readonly log: Log;
  private readonly random: () => number;
  private readonly name: string;

  constructor(private readonly deps: DrainDependencies) {
    this.log = deps.log ?? silentLog;
    this.random = deps.random ?? Math.random;
    this.name = deps.name ?? "drain";
  }

  async run(options: RunOptions = {}): Promise<DrainSummary> {
    const started = performance.now();
    const remainingMs = options.remainingMs ?? (() => Number.POSITIVE_INFINITY);
    const summary: DrainSummary = {
      claimed: 0,
      published: 0,
      retried: 0,
      deadLettered: 0,
      released: 0,
      batches: 0,
      durationMs: 0,
      lagMs: 0,
      stoppedBy: "drained",
    };
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
      else if (summary.stoppedBy === "broker-unavailable")
        this.log.warn("outbox drain stopped early", { ...summary });
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
    };
    if (events.length === 0) return outcome;

    const { candidates, poison } = this.prepare(events);
    // Dead-letter poison first: once it is out of the way, its aggregate's
    // later events in this batch may go. If the hand-off fails it stays
    // pending, and so must they.
    const blocked = new Set<string>();
    const rejected = await this.deadLetterPoison(poison, outcome);
    for (const item of rejected) blocked.add(item.event.aggregateId);

    const sent = await this.sendIsolating(candidates, blocked);
    outcome.published = await repository.markPublished(
      sent.published.map((e) => e.seq),
      clock.now(),
    );
    await this.settleFailures(sent.failed, rejected, owner, outcome);
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

  private prepare(events: ClaimedEvent[]): { candidates: Candidate[]; poison: Poison[] } {
    const candidates: Candidate[] = [];
    const poison: Poison[] = [];
    for (const event of events) {
      const payload = event.payload;
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
        poison.push({ event, body: rawBody(event), error: "invalid event: payload is not a JSON object" });
        continue;
      }
      const envelope = toEnvelope({
        id: event.id,
        aggregateType: event.aggregateType,
        aggregateId: event.aggregateId,
        eventType: event.eventType,
        payload: payload as Record<string, unknown>,
        createdAt: event.createdAt,
      });
      const check = this.deps.validators.envelope(envelope);
      if (!check.ok) {
        poison.push({ event, body: { ...envelope }, error: `invalid event: ${check.error}` });
        continue;
      }
      candidates.push({ event, envelope, message: eventMessage(this.deps.config.topicPrefix, envelope) });
    }
    return { candidates, poison };
  }

  /** Returns the poison events the dead-letter function did not accept. */
  private async deadLetterPoison(poison: Poison[], outcome: BatchOutcome): Promise<Poison[]> {
    if (poison.length === 0) return [];
    const now = this.deps.clock.now();
    const results = await Promise.allSettled(
      poison.map((item) =>
        this.deps.deadLetters.deadLetter(deadLetterOf(item.event, item.body, item.error, now)),
      ),
    );
    const accepted: Poison[] = [];
    const rejected: Poison[] = [];
    results.forEach((result, i) => {
      const item = poison[i] as Poison;
      if (result.status === "fulfilled") accepted.push(item);
      else {
        rejected.push(item);
        this.log.error("dead-letter invoke failed", { eventId: item.event.id, error: String(result.reason) });
      }
    });
    outcome.deadLettered += await this.deps.repository.markDeadLettered(
      accepted.map((item) => ({ seq: item.event.seq, attempts: item.event.attempts, error: item.error })),
      now,
    );
    for (const item of accepted) {
      this.log.warn("poison event dead-lettered", { eventId: item.event.id, error: item.error });
    }
    return rejected;
  }

  /**
   * One sendBatch for the whole batch (split only to stay under the request
   * size cap, in order). When Kafka rejects it because of some
   * record, halve and retry each half to find the culprits: a few extra
   * round trips per bad event instead of one per event. Halves go in order,
   * and an aggregate with a failed event sends nothing after it.
   */
  private async sendIsolating(candidates: Candidate[], blocked: Set<string>): Promise<SendResult> {
    const result: SendResult = { published: [], failed: [], held: [] };
    const send = async (group: Candidate[]): Promise<void> => {
      const sendable: Candidate[] = [];
      for (const candidate of group) {
        if (blocked.has(candidate.event.aggregateId) || result.unavailable) result.held.push(candidate.event);
        else sendable.push(candidate);
      }
      if (sendable.length === 0) return;
      try {
        await this.deps.publisher.publish(sendable.map((c) => c.message));
        for (const candidate of sendable) result.published.push(candidate.event);
        return;
      } catch (error) {
        const failure = classifyKafkaError(error);
        if (failure.kind === "unavailable") {
          result.unavailable = failure;
          for (const candidate of sendable) result.held.push(candidate.event);
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
    for (const chunk of byRequestSize(candidates, this.deps.config.maxRequestBytes)) await send(chunk);
    return result;
  }

  private async settleFailures(
    failed: SendResult["failed"],
    rejectedPoison: Poison[],
    owner: string,
    outcome: BatchOutcome,
  ): Promise<void> {
    const { config, clock, repository } = this.deps;
    const now = clock.now();
    const retries: FailedAttempt[] = [];
    const exhausted: { event: ClaimedEvent; envelope: DeadLetterEnvelope; error: string }[] = [];
    for (const { candidate, failure } of failed) {
      const attempts = candidate.event.attempts + 1;
      const error = `${failure.type}: ${failure.message}`;
      this.log.warn("kafka rejected event", { eventId: candidate.event.id, attempts, error });
      if (attempts >= config.maxAttempts) {
        exhausted.push({
          event: candidate.event,
          envelope: deadLetterOf(
            candidate.event,
            { ...candidate.envelope },
            `${error} (after ${attempts} attempts)`,
            now,
            attempts,
          ),
          error,
        });
      } else {
        retries.push({
          seq: candidate.event.seq,
          attempts,
          nextAttemptAt: this.nextAttemptAt(now, attempts),
          error,
        });
      }
    }

    const handedOver = await Promise.allSettled(
      exhausted.map((item) => this.deps.deadLetters.deadLetter(item.envelope)),
    );
    const deadLettered: { seq: bigint; attempts: number; error: string }[] = [];
    handedOver.forEach((result, i) => {
      const item = exhausted[i] as (typeof exhausted)[number];
      const attempts = item.envelope.retry_count;
      if (result.status === "fulfilled") {
        deadLettered.push({ seq: item.event.seq, attempts, error: item.error });
      } else {
        // Still counted; the next failure hands it over again.
        const error = `${item.error}; dead-letter invoke failed: ${String(result.reason)}`;
        this.log.error("dead-letter invoke failed", { eventId: item.event.id, error });
        retries.push({
          seq: item.event.seq,
          attempts,
          nextAttemptAt: this.nextAttemptAt(now, attempts),
          error,
        });
      }
    });
    // A poison event whose hand-off failed waits a while; it was never sent, so no attempt is counted.
    for (const item of rejectedPoison) {
      const attempts = item.event.attempts;
      retries.push({
        seq: item.event.seq,
        attempts,
        nextAttemptAt: this.nextAttemptAt(now, Math.max(1, attempts)),
        error: `${item.error}; dead-letter invoke failed`,
      });
    }

    outcome.deadLettered += await repository.markDeadLettered(deadLettered, now);
    await repository.recordFailures(retries, owner);
    outcome.retried += retries.length - rejectedPoison.length;
  }

  private nextAttemptAt(now: Date, attempts: number): Date {
    const { backoffBaseMs, backoffMaxMs } = this.deps.config;
    return new Date(
      now.getTime() + backoffDelayMs(attempts, { baseMs: backoffBaseMs, maxMs: backoffMaxMs }, this.random),
    );
  }

  private async lagMs(): Promise<number> {
    const oldest = await this.deps.repository.oldestPendingCreatedAt();
    return oldest ? Math.max(0, this.deps.clock.now().getTime() - oldest.getTime()) : 0;
  }
}

// Record overhead beyond key, value and header bytes (lengths, offsets, attributes), rounded up.
const RECORD_OVERHEAD_BYTES = 64;

function recordBytes(message: OutgoingMessage): number {
  let bytes = RECORD_OVERHEAD_BYTES + message.key.length + Buffer.byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers)) bytes += name.length + value.length;
  return bytes;
}

/**
 * Consecutive runs of candidates whose records fit in `maxBytes`. No single
 * partition's record batch can then exceed Kafka's max.message.bytes, which
 * would fail the whole request for reasons no event is to blame for.
 */
function byRequestSize(candidates: Candidate[], maxBytes: number): Candidate[][] {
  const chunks: Candidate[][] = [];
  let current: Candidate[] = [];
  let size = 0;
  for (const candidate of candidates) {
    const bytes = recordBytes(candidate.message);
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(candidate);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function rawBody(event: ClaimedEvent): Record<string, unknown> {
  return {
    event_id: event.id,
    event_type: event.eventType,
    aggregate_type: event.aggregateType,
    aggregate_id: event.aggregateId,
    occurred_at: event.createdAt,
    payload: event.payload,
  };
}

function deadLetterOf(
  event: ClaimedEvent,
  body: Record<string, unknown>,
  error: string,
  now: Date,
  retryCount = event.attempts,
): DeadLetterEnvelope {
  return { event_id: event.id, event: body, retry_count: retryCount, failed_at: toRfc3339(now), error };
}
