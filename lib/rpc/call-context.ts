/**
 * What a call carries besides its messages, in Connect's context values: set
 * once per call and read wherever it is needed, never parsed again.
 *
 * - Its deadline, as one absolute time: the sooner of the client's
 *   grpc-timeout and the host's own limit (the Lambda's remaining time). The
 *   client's header itself is left as sent.
 * - Whether it has taken effect: from then on its result is the answer, and
 *   a deadline that passes before the answer is sent no longer replaces it.
 * - Work to run once the answer is final, which the answer never waits for
 *   beyond what the host allows (see lambdaHandler's afterResponseMs).
 */
import { type ContextValues, createContextKey } from "@connectrpc/connect";

/** Work left for after the answer; it must not reject, and a rejection is reported as a bug. */
export type AfterResponse = () => Promise<unknown>;

const deadlineKey = createContextKey<number | undefined>(undefined, { description: "call deadline" });
const effectKey = createContextKey<boolean>(false, { description: "call has taken effect" });
// Undefined by default: a shared default array would collect every call's work.
const afterResponseKey = createContextKey<AfterResponse[] | undefined>(undefined, {
  description: "work after the response",
});

/** Epoch milliseconds after which nobody waits for this call's answer; undefined when nothing bounds it. */
export function callDeadline(values: ContextValues): number | undefined {
  return values.get(deadlineKey);
}

export function setCallDeadline(values: ContextValues, deadline: number | undefined): void {
  values.set(deadlineKey, deadline);
}

/**
 * Marks the call as having taken effect (say, its transaction committed): its
 * result is now the answer. Call it as soon as the effect is certain and
 * before any other await, so no deadline can slip in between.
 */
export function markTakenEffect(values: ContextValues): void {
  values.set(effectKey, true);
}

export function hasTakenEffect(values: ContextValues): boolean {
  return values.get(effectKey);
}

/**
 * Runs `work` once the call's answer is final, whatever it is. The answer is
 * not held for it: a host that must not return before it settles (Lambda
 * freezes the sandbox) waits a fixed, small time at most.
 */
export function afterResponse(values: ContextValues, work: AfterResponse): void {
  const queued = values.get(afterResponseKey);
  if (queued) queued.push(work);
  else values.set(afterResponseKey, [work]);
}

/** Starts the call's after-response work; settles once all of it has, never rejects. */
export function runAfterResponse(
  values: ContextValues,
  onError: (error: unknown) => void,
): Promise<void> | undefined {
  const queued = values.get(afterResponseKey);
  if (!queued) return undefined;
  return Promise.all(
    queued.map((work) => {
      try {
        return work().then(undefined, onError);
      } catch (error) {
        onError(error);
        return undefined;
      }
    }),
  ).then(() => undefined);
}
