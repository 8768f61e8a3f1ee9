import { setTimeout as sleep } from "node:timers/promises";
import type { Clock } from "../clock.ts";
import type { OutboxConfig } from "../config.ts";
import type { DeadLetterInvoker } from "../dead-letters/invoker.ts";
import type { EventValidators } from "../events/validators.ts";
import type { MessagePublisher } from "../kafka/publisher.ts";
import { type Log, silentLog } from "../logging.ts";
import { BatchSteps, type ReadyBatch, type SentBatch } from "./batch.ts";
import type { Outbox } from "./outbox-repository.ts";
import type { PublishTracer } from "./publish-tracer.ts";
import { backoffRetryStrategy, type RetryStrategy } from "./settle.ts";
import { type BatchOutcome, type DrainSummary, emptySummary, type StopReason } from "./summary.ts";

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
  | "pollIntervalMs"
  | "nudgeMinIntervalMs"
>;

export type { BatchOutcome, DrainSummary, StopReason } from "./summary.ts";

export interface DrainDependencies {
  repository: Outbox;
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
  /**
   * A nudged run: once nothing is due, look again every pollIntervalMs until
   * nothing has come for nudgeMinIntervalMs (or the time budget ends). The
   * nudge is throttled to one per that interval, so an event committed while
   * it is throttled is found by the drain the last nudge started, instead of
   * waiting for the next nudge. Off (pollIntervalMs 0, or a scheduled run):
   * the run ends as soon as nothing is due.
   */
  linger?: boolean;
  /**
   * Called when a lingering run has found nothing for the whole time, just
   * before it looks one last time and ends (BoundedDrain lets the nudge
   * throttle go here, so an event committed while it was held is found by
   * that last look, and one committed after it nudges).
   */
  beforeLastLook?: () => Promise<void>;
  /**
   * Asked before each claim and again when the claim is back: a
   * reason means no further batch may go (BoundedDrain: its slot's lease
   * could not be renewed), and the run ends with it.
   */
  stopWhen?: () => StopReason | undefined;
}

/** Wakes whoever waits for the pipeline to change (a send or a settle ended). */
class Changes {
  private waiters: (() => void)[] = [];

  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/**
 * A claim's result as a value, so a claim made ahead can fail before anyone
 * awaits it. `overlapped`: other batches were still out when it was made, so
 * their settling may have freed events it could not see (say, the ones held
 * behind a failed event of their aggregate).
 */
type Claimed = { batch: ReadyBatch | undefined; overlapped: boolean } | { error: unknown };

/**
 * Moves due outbox events to Kafka, batch by batch, until nothing is due or
 * the time budget runs out. Safe to run several at once (see the claim query).
 *
 * Batches overlap (up to `concurrency` at once): the next batch is claimed
 * and readied while the current one is sent, and a sent batch is settled
 * while the next one is sent, so the producer need not wait for Postgres.
 * Sends go one at a time, in claim order. At most one batch waits ahead of
 * the one being sent, so a run that meets a broker outage has claimed at most
 * two batches when it stops, and gives both back untouched.
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
  private readonly steps: BatchSteps;

  constructor(private readonly deps: DrainDependencies) {
    this.log = deps.log ?? silentLog;
    this.steps = new BatchSteps({
      ...deps,
      log: this.log,
      retry: deps.retry ?? backoffRetryStrategy(deps.config, deps.random),
      name: deps.name ?? "drain",
    });
  }

  async run(options: RunOptions = {}): Promise<DrainSummary> {
    const started = performance.now();
    const summary = emptySummary("drained");
    try {
      await this.pipeline(summary, options);
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

  private async pipeline(summary: DrainSummary, options: RunOptions): Promise<void> {
    const { concurrency, timeMarginMs, pollIntervalMs, nudgeMinIntervalMs } = this.deps.config;
    const remainingMs = options.remainingMs ?? (() => Number.POSITIVE_INFINITY);
    const lingerMs = options.linger && pollIntervalMs > 0 ? nudgeMinIntervalMs : 0;
    // Why no further batch may go, if it may not: the caller's reason first, then the time budget.
    const stopReason = (): StopReason | undefined =>
      options.stopWhen?.() ?? (remainingMs() <= timeMarginMs ? "time" : undefined);
    const changes = new Changes();
    const settling = new Set<Promise<void>>();
    let sending = false;
    let stopped = false;
    let failure: { error: unknown } | undefined;

    const fail = (error: unknown) => {
      failure ??= { error };
      stopped = true;
      summary.stoppedBy = "error";
      summary.error ??= error instanceof Error ? error.message : String(error);
    };
    const record = (outcome: BatchOutcome) => {
      summary.batches += 1;
      summary.claimed += outcome.claimed;
      summary.published += outcome.published;
      summary.retried += outcome.retried;
      summary.deadLettered += outcome.deadLettered;
      summary.released += outcome.released;
      summary.parked += outcome.parked;
      for (const topic of outcome.missingTopics)
        if (!summary.missingTopics.includes(topic)) summary.missingTopics.push(topic);
      if (outcome.unavailable && summary.stoppedBy !== "error") {
        summary.stoppedBy = "broker-unavailable";
        summary.error = `${outcome.unavailable.type}: ${outcome.unavailable.message}`;
      }
    };
    // Claims once fewer than `concurrency` batches are out (being sent or settled), and the
    // run may go on; never rejects. A lingering look that runs out of time found the outbox
    // empty last time: the run still ends drained.
    const claimNext = async (lingering = false): Promise<Claimed> => {
      while (!stopped && settling.size + (sending ? 1 : 0) >= concurrency) await changes.next();
      if (stopped) return { batch: undefined, overlapped: false };
      const reason = stopReason();
      if (reason) {
        if (reason !== "time" || !lingering) summary.stoppedBy = reason;
        stopped = true;
        return { batch: undefined, overlapped: false };
      }
      const overlapped = sending || settling.size > 0;
      try {
        return { batch: await this.steps.claim(), overlapped };
      } catch (error) {
        return { error };
      }
    };
    const settleInBackground = (batch: ReadyBatch, sent: SentBatch) => {
      const settled = this.steps.settle(batch, sent).then(record, fail);
      settling.add(settled);
      void settled.finally(() => {
        settling.delete(settled);
        changes.notify();
      });
    };

    let idleSince = performance.now();
    let lastLook = false;
    let ahead: Promise<Claimed> | undefined = claimNext();
    // Once stopped, a batch claimed ahead is not sent (released below).
    while (ahead !== undefined && !stopped) {
      const claimed: Claimed = await ahead;
      ahead = undefined;
      if ("error" in claimed) {
        fail(claimed.error);
        break;
      }
      const batch = claimed.batch;
      // Asked again once the claim is back, claimed ahead or not: a claim can take long (Postgres
      // slow or hanging), and a run whose slot was lost or whose time ran out meanwhile must not
      // send (invariant 10: the slot's next holder may already be draining).
      const lateReason = batch && !stopped ? stopReason() : undefined;
      if (lateReason) {
        summary.stoppedBy = lateReason;
        stopped = true;
      }
      if (batch && stopped) {
        ahead = Promise.resolve(claimed);
        break;
      }
      if (!batch) {
        if (stopped) break;
        if (claimed.overlapped) {
          // Nothing due while other batches were out: look once more after they settled.
          await Promise.all(settling);
          ahead = claimNext();
          continue;
        }
        if (performance.now() - idleSince >= lingerMs) {
          if (lastLook || !options.beforeLastLook) break;
          lastLook = true;
          await options.beforeLastLook();
          ahead = claimNext();
          continue;
        }
        await sleep(pollIntervalMs);
        ahead = claimNext(true);
        continue;
      }
      // Send this batch; meanwhile claim the next one, once the bound allows.
      sending = true;
      const sendingNow = this.steps.send(batch);
      ahead = claimNext();
      let sent: SentBatch;
      try {
        sent = await sendingNow;
      } catch (error) {
        // Not a Kafka refusal (those are results): a bug. The batch's lease runs out by itself.
        fail(error);
        break;
      } finally {
        sending = false;
        changes.notify();
      }
      if (sent.result.unavailable) stopped = true;
      settleInBackground(batch, sent);
      idleSince = performance.now();
      lastLook = false;
    }
    stopped = true;
    changes.notify();
    // A batch claimed ahead of a send that never came goes back untouched.
    const left = ahead ? await ahead : undefined;
    if (left && "error" in left) fail(left.error);
    else if (left?.batch) await this.steps.release(left.batch).then(record, fail);
    await Promise.all(settling);
    if (failure) throw failure.error;
  }

  private async lagMs(): Promise<number> {
    const oldest = await this.deps.repository.oldestPendingCreatedAt();
    return oldest ? Math.max(0, this.deps.clock.now().getTime() - oldest.getTime()) : 0;
  }
}
