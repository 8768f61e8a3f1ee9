import { Code, ConnectError } from "@connectrpc/connect";
import { ServiceError, type StatusCode } from "../errors.ts";

const CODES: Record<StatusCode, Code> = {
  INVALID_ARGUMENT: Code.InvalidArgument,
  NOT_FOUND: Code.NotFound,
  ALREADY_EXISTS: Code.AlreadyExists,
  FAILED_PRECONDITION: Code.FailedPrecondition,
  PERMISSION_DENIED: Code.PermissionDenied,
  UNAUTHENTICATED: Code.Unauthenticated,
  RESOURCE_EXHAUSTED: Code.ResourceExhausted,
  DEADLINE_EXCEEDED: Code.DeadlineExceeded,
  UNAVAILABLE: Code.Unavailable,
  INTERNAL: Code.Internal,
};

export function grpcCodeOf(status: StatusCode): Code {
  return CODES[status];
}

/** What every caller sees for a bug: nothing about where or why. */
export const INTERNAL_MESSAGE = "internal error";

/**
 * The error to put on the wire for anything thrown while serving a call.
 * ServiceError messages are written for callers and pass through; anything
 * else is a bug, reported once through `onUnexpected` and answered with a
 * bare INTERNAL so no stack, SQL or driver text leaves the process.
 */
export function toConnectError(
  error: unknown,
  onUnexpected: (error: unknown) => void,
  onUnavailable?: (error: ServiceError) => void,
): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof ServiceError) {
    if (error.code === "INTERNAL") {
      onUnexpected(error);
      return new ConnectError(INTERNAL_MESSAGE, Code.Internal);
    }
    // The caller learns only that it may retry; the cause (which dependency, what it said) is for the log.
    if (error.code === "UNAVAILABLE") onUnavailable?.(error);
    return new ConnectError(error.message, grpcCodeOf(error.code), undefined, undefined, error);
  }
  onUnexpected(error);
  return new ConnectError(INTERNAL_MESSAGE, Code.Internal);
}
