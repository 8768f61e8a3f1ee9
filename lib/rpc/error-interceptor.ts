import type { ConnectError, Interceptor } from "@connectrpc/connect";
import type { ServiceError } from "../errors.ts";
import { markStage } from "./call-stage.ts";
import { toConnectError } from "./status-map.ts";

/** Where the gateway reports what the caller is not told. */
export interface ErrorReporting {
  /** Called with every error that is a bug rather than a refusal; the caller sees only INTERNAL. */
  onUnexpectedError(error: unknown, procedure: string): void;
  /** Called with every UNAVAILABLE answer's error, whose cause the caller does not see. */
  onUnavailable?(error: ServiceError, procedure: string): void;
}

/** toConnectError, reporting a bug or an UNAVAILABLE cause under the procedure's name. */
export function reportedConnectError(
  error: unknown,
  reporting: ErrorReporting,
  procedure: string,
): ConnectError {
  return toConnectError(
    error,
    (e) => reporting.onUnexpectedError(e, procedure),
    (e) => reporting.onUnavailable?.(e, procedure),
  );
}

/**
 * Outermost interceptor: marks the call as reaching the implementation and
 * turns whatever it throws into a ConnectError with a precise code (domain
 * errors) or a bare INTERNAL (bugs, reported through `onUnexpectedError`).
 */
export function errorInterceptor(reporting: ErrorReporting): Interceptor {
  return (next) => async (req) => {
    markStage(req.contextValues, "invoked");
    try {
      return await next(req);
    } catch (error) {
      throw reportedConnectError(error, reporting, `/${req.service.typeName}/${req.method.name}`);
    }
  };
}
