import { untilAborted } from "../abortable.ts";
import type { AsyncLambdaInvoker } from "../aws/lambda-invoker.ts";
import type { OutboxConfig } from "../config.ts";
import { type Log, silentLog } from "../logging.ts";
import type { DrainStateRepository } from "./drain-state.ts";

export interface OutboxNudgeOptions {
  enabled: boolean;
  /** At most one trigger per this many ms (per container). */
  minIntervalMs: number;
  /**
   * How long afterCommit waits for the nudge (gate, trigger and, in a fresh
   * container, loading the Lambda SDK). Past it, it resolves false and the
   * nudge carries on unawaited, within the trigger's own deadline: where the
   * runtime keeps running (serverless offline, LocalStack) it still lands;
   * where Lambda freezes the sandbox it resumes at the next invocation or
   * fails, and the schedule delivers. The api runs the nudge after a
   * payment's answer is final, never inside the call's deadline.
   */
  timeoutMs?: number;
  /** Starts a drain somewhere: an async Lambda invoke in production, an in-process call in the bench. */
  trigger: () => Promise<void>;
  /**
   * Asked after the local throttle, before triggering: false skips the nudge
   * (another container nudged within the interval, or the broker is down).
   */
  gate?: () => Promise<boolean>;
  /** Monotonic milliseconds. */
  nowMs?: () => number;
  log?: Log;
}

/**
 * Asks for a drain right after a payment committed, so its event need not
 * wait for the cron. Throttled: a drain empties everything due, so one per
 * interval serves every payment committed before it starts.
 */
export class OutboxNudge {
  private lastTriggerMs = Number.NEGATIVE_INFINITY;
  private readonly nowMs: () => number;
  private readonly log: Log;

  constructor(private readonly options: OutboxNudgeOptions) {
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.log = options.log ?? silentLog;
  }

  /**
   * Call after the payment's transaction committed. Resolves true when a
   * drain was requested, false when disabled or throttled. Never rejects: the
   * payment is safe in the outbox and the cron delivers it regardless.
   */
  async afterCommit(): Promise<boolean> {
    if (!this.options.enabled) return false;
    const now = this.nowMs();
    if (now - this.lastTriggerMs < this.options.minIntervalMs) return false;
    this.lastTriggerMs = now;
    const outcome = this.nudge().catch((error: unknown) => {
      this.log.warn("outbox nudge failed; the scheduled drain will deliver", {
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    });
    const { timeoutMs } = this.options;
    if (timeoutMs === undefined) return outcome;
    try {
      return await untilAborted(outcome, AbortSignal.timeout(timeoutMs));
    } catch {
      this.log.warn("outbox nudge still unanswered; the payment answers without it", { timeoutMs });
      return false;
    }
  }

  private async nudge(): Promise<boolean> {
    if (this.options.gate && !(await this.options.gate())) return false;
    await this.options.trigger();
    return true;
  }
}

/** What the api's nudge sends the drainOutbox function. */
export const NUDGE_EVENT = { source: "nudge" } as const;

/** Whether a drainOutbox invocation came from a nudge (a nudged run lingers: RunOptions.linger). */
export function isNudge(event: unknown): boolean {
  return (
    typeof event === "object" &&
    event !== null &&
    (event as { source?: unknown }).source === NUDGE_EVENT.source
  );
}

/** The api's nudge: an async invoke of the drainOutbox function. */
export function lambdaOutboxNudge(
  config: OutboxConfig,
  lambda: AsyncLambdaInvoker,
  state: DrainStateRepository,
  log?: Log,
): OutboxNudge {
  return new OutboxNudge({
    enabled: config.nudgeEnabled,
    minIntervalMs: config.nudgeMinIntervalMs,
    timeoutMs: config.nudgeTimeoutMs,
    gate: () => state.claimNudge(config.nudgeMinIntervalMs),
    trigger: () => lambda.invoke(config.drainFunctionName, NUDGE_EVENT),
    ...(log ? { log } : {}),
  });
}
