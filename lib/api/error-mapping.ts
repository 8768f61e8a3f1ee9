/**
 * The application's errors on the wire: a ServiceError's message is written
 * for callers and goes out with its status; anything else is a bug, which
 * lib/rpc answers with a bare INTERNAL (and so is a ServiceError coded
 * INTERNAL). lib/rpc knows no application errors: the gateway is given this.
 */
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

/** The answer for a ServiceError, its cause kept for the log; undefined for anything else. */
export function connectErrorOf(error: unknown): ConnectError | undefined {
  if (!(error instanceof ServiceError)) return undefined;
  return new ConnectError(error.message, grpcCodeOf(error.code), undefined, undefined, error);
}
