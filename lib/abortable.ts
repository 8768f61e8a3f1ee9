/**
 * `promise`'s outcome, or a rejection as soon as `signal` aborts, whichever
 * comes first. The work behind `promise` is not stopped: it finishes or fails
 * on its own, unobserved. `reason` turns the abort into the error to reject
 * with (default: the signal's reason).
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  reason: (signal: AbortSignal) => unknown = (aborted) => aborted.reason,
): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(reason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
