import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { untilAborted } from "../abortable.ts";

/**
 * Ends the call when its signal fires (grpc-timeout elapsed, or the Lambda is
 * about to time out) even if the implementation is still waiting on the
 * database: the client gets DEADLINE_EXCEEDED on time instead of a gateway
 * timeout. An already expired deadline never reaches the implementation, so
 * it writes nothing. Work that is already in flight finishes or fails on its
 * own; writes are idempotent by key, so a retry after a deadline is safe.
 */
export const deadlineInterceptor: Interceptor = (next) => (req) => {
  // An expired deadline rejects before next() runs, so the implementation never starts.
  if (req.signal.aborted) return Promise.reject(abortError(req.signal));
  return untilAborted(next(req), req.signal, abortError);
};

function abortError(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  if (reason instanceof ConnectError) return reason;
  return new ConnectError("the call was cancelled", Code.Canceled);
}
