/**
 * Canonical status codes shared by every layer. The names are gRPC's, but
 * nothing here depends on a protocol: the rpc layer maps them to the wire.
 */
export type StatusCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "RESOURCE_EXHAUSTED"
  | "DEADLINE_EXCEEDED"
  | "UNAVAILABLE"
  | "INTERNAL";

/** An error whose message is safe to show to the caller. */
export class ServiceError extends Error {
  constructor(
    readonly code: StatusCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ServiceError";
  }
}

export class InvalidArgumentError extends ServiceError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super("INVALID_ARGUMENT", `${field}: ${reason}`);
    this.name = "InvalidArgumentError";
  }
}

export class NotFoundError extends ServiceError {
  constructor(what: string, id: string) {
    super("NOT_FOUND", `${what} ${id} not found`);
    this.name = "NotFoundError";
  }
}

export class AlreadyExistsError extends ServiceError {
  constructor(message: string) {
    super("ALREADY_EXISTS", message);
    this.name = "AlreadyExistsError";
  }
}

export class UnavailableError extends ServiceError {
  constructor(message: string, cause?: unknown) {
    super("UNAVAILABLE", message, { cause });
    this.name = "UnavailableError";
  }
}
