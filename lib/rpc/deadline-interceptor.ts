import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * Ends the call when its signal fires (grpc-timeout elapsed, or the Lambda is
 * about to time out) even if the implementation is still waiting on the
 * database: the client gets DEADLINE_EXCEEDED on time instead of a gateway
 * timeout. An already expired deadline never reaches the implementation, so
 * it writes nothing. Work that is already in flight finishes or fails on its
 * own; writes are idempotent by key, so a retry after a deadline is safe.
 */
export const deadlineInterceptor: Interceptor = (next) => (req) => {
  const { signal } = req;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort);
    next(req).then(
      (response) => {
        signal.removeEventListener("abort", onAbort);
        resolve(response);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
};

function abortError(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  if (reason instanceof ConnectError) return reason;
  return new ConnectError("the call was cancelled", Code.Canceled);
}
