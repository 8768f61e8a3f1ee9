import { Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { hasTakenEffect } from "./call-context.ts";

/**
 * Ends the call when its signal fires (grpc-timeout elapsed, or the host is
 * about to stop it) even if the implementation is still waiting on the
 * database: the client gets DEADLINE_EXCEEDED on time instead of a gateway
 * timeout. An already expired deadline never reaches the implementation, so
 * it writes nothing. A server stream is watched message by message: what was
 * sent before the deadline stays sent, then the stream ends with the status.
 *
 * A call that has taken effect (markTakenEffect) is no longer cut short: its
 * result is the answer, and it comes once the implementation returns. Work in
 * flight when a deadline cuts a call finishes or fails on its own; writes are
 * idempotent by key, so a retry after a deadline is safe.
 */
export const deadlineInterceptor: Interceptor = (next) => (req) => {
  // An expired deadline rejects before next() runs, so the implementation never starts.
  if (req.signal.aborted) return Promise.reject(abortError(req.signal));
  let work: ReturnType<typeof next>;
  try {
    work = next(req);
  } catch (error) {
    return Promise.reject(error);
  }
  // A unary call's answer is passed on as it is: no promise layer besides the race itself.
  const answer = untilDeadline(work, req.signal, req.contextValues);
  if (!req.stream) return answer;
  return answer.then((res) =>
    res.stream ? { ...res, message: watched(res.message, req.signal, req.contextValues) } : res,
  );
};

/** `work`'s outcome, or the deadline's error if the signal fires first and the call has not taken effect. */
function untilDeadline<T>(work: Promise<T>, signal: AbortSignal, values: ContextValues): Promise<T> {
  if (signal.aborted && !hasTakenEffect(values)) {
    work.catch(() => undefined);
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      if (hasTakenEffect(values)) return;
      work.catch(() => undefined);
      reject(abortError(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
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

/** The stream's messages, each awaited no longer than the call's deadline. */
function watched<T>(
  messages: AsyncIterable<T>,
  signal: AbortSignal,
  values: ContextValues,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = messages[Symbol.asyncIterator]();
      return {
        next: () =>
          untilDeadline(it.next(), signal, values).catch((error: unknown) => {
            // The implementation stops at its next step; nobody reads what it still yields.
            it.return?.().catch(() => undefined);
            throw error;
          }),
        return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
      };
    },
  };
}

function abortError(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  if (reason instanceof ConnectError) return reason;
  return new ConnectError("the call was cancelled", Code.Canceled);
}
