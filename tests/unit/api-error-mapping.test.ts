import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { connectErrorOf, grpcCodeOf } from "../../lib/api/error-mapping.ts";
import { PermissionDeniedError, UnauthenticatedError } from "../../lib/auth/errors.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
  type ServiceError,
  type StatusCode,
  UnavailableError,
} from "../../lib/errors.ts";

describe("the application's errors on the wire", () => {
  it.each<[StatusCode, Code]>([
    ["INVALID_ARGUMENT", Code.InvalidArgument],
    ["NOT_FOUND", Code.NotFound],
    ["ALREADY_EXISTS", Code.AlreadyExists],
    ["FAILED_PRECONDITION", Code.FailedPrecondition],
    ["PERMISSION_DENIED", Code.PermissionDenied],
    ["UNAUTHENTICATED", Code.Unauthenticated],
    ["RESOURCE_EXHAUSTED", Code.ResourceExhausted],
    ["DEADLINE_EXCEEDED", Code.DeadlineExceeded],
    ["UNAVAILABLE", Code.Unavailable],
    ["INTERNAL", Code.Internal],
  ])("%s -> %i", (status, code) => {
    expect(grpcCodeOf(status)).toBe(code);
  });

  it("passes domain errors through with their message and precise code, the error itself as the cause", () => {
    const cases: Array<[ServiceError, Code]> = [
      [new InvalidArgumentError("amount_cents", "must be positive"), Code.InvalidArgument],
      [new NotFoundError("payment", "X"), Code.NotFound],
      [new AlreadyExistsError("key reused"), Code.AlreadyExists],
      [new UnavailableError("db down", new Error("ECONNREFUSED 10.0.0.1:5432")), Code.Unavailable],
      [new UnauthenticatedError("token has expired"), Code.Unauthenticated],
      [new PermissionDeniedError("not yours"), Code.PermissionDenied],
    ];
    for (const [error, code] of cases) {
      const wire = connectErrorOf(error);
      expect(wire?.code).toBe(code);
      expect(wire?.rawMessage).toBe(error.message);
      expect(wire?.cause).toBe(error);
    }
  });

  it("does not recognise anything else: lib/rpc answers it as a bug", () => {
    expect(connectErrorOf(new TypeError("x is undefined"))).toBeUndefined();
    expect(connectErrorOf("a string")).toBeUndefined();
  });
});
