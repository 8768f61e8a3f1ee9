import { ServiceError } from "../errors.ts";

/** No credentials, or credentials that do not verify. */
export class UnauthenticatedError extends ServiceError {
  constructor(message: string, cause?: unknown) {
    super("UNAUTHENTICATED", message, { cause });
    this.name = "UnauthenticatedError";
  }
}

/** A known caller asking for something that is not theirs. */
export class PermissionDeniedError extends ServiceError {
  constructor(message: string) {
    super("PERMISSION_DENIED", message);
    this.name = "PermissionDeniedError";
  }
}
