import type { ConnectError, Interceptor } from "@connectrpc/connect";
import { markStage } from "./call-stage.ts";
import { type ErrorMapper, toConnectError } from "./status-map.ts";

/** How the gateway turns the application's errors into answers, and where it reports what the caller is not told. */
export interface ErrorReporting {
  /** The application's errors as the caller may see them; without it, every non-Connect error is a bug. */
  mapError?: ErrorMapper;
  /** Called with every error that is a bug rather than a refusal; the caller sees only INTERNAL. */
  onUnexpectedError(error: unknown, procedure: string): void;
  /** Called with every UNAVAILABLE answer (its `cause` is the application's error), whose cause the caller does not see. */
  onUnavailable?(error: ConnectError, procedure: string): void;
}

/** toConnectError, reporting a bug or an UNAVAILABLE cause under the procedure's name. */
export function reportedConnectError(
  error: unknown,
  reporting: ErrorReporting,
  procedure: string,
): ConnectError {
  return toConnectError(
    error,
    reporting.mapError,
    (e) => reporting.onUnexpectedError(e, procedure),
    (e) => reporting.onUnavailable?.(e, procedure),
  );
}

/**
 * Outermost interceptor: marks the call as reaching the implementation and
 * turns whatever it throws into a ConnectError with a precise code (mapped
 * application errors) or a bare INTERNAL (bugs, reported through
 * `onUnexpectedError`). A server stream's errors surface while its messages
 * are read, so they are mapped there too.
 */
export function errorInterceptor(reporting: ErrorReporting): Interceptor {
  return (next) => (req) => {
    markStage(req.contextValues, "invoked");
    const procedure = () => `/${req.service.typeName}/${req.method.name}`;
    const mapped = (error: unknown) => reportedConnectError(error, reporting, procedure());
    let res: ReturnType<typeof next>;
    try {
      res = next(req);
    } catch (error) {
      return Promise.reject(mapped(error));
    }
    // One promise layer, not an async function's: this runs on every call.
    return res.then(
      (r) => (r.stream ? { ...r, message: mapErrors(r.message, reporting, procedure) } : r),
      (error: unknown) => Promise.reject(mapped(error)),
    );
  };
}

async function* mapErrors<T>(
  messages: AsyncIterable<T>,
  reporting: ErrorReporting,
  procedure: () => string,
): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw reportedConnectError(error, reporting, procedure());
  }
}
