import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { PermissionDeniedError, UnauthenticatedError } from "../../lib/auth/errors.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
  ServiceError,
  type StatusCode,
  UnavailableError,
} from "../../lib/errors.ts";
import { grpcCodeOf, toConnectError } from "../../lib/rpc/status-map.ts";

describe("status map", () => {
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

  it("passes domain errors through with their message and precise code", () => {
    const cases: Array<[ServiceError, Code]> = [
      [new InvalidArgumentError("amount_cents", "must be positive"), Code.InvalidArgument],
      [new NotFoundError("payment", "X"), Code.NotFound],
      [new AlreadyExistsError("key reused"), Code.AlreadyExists],
      [new UnavailableError("db down", new Error("ECONNREFUSED 10.0.0.1:5432")), Code.Unavailable],
      [new UnauthenticatedError("token has expired"), Code.Unauthenticated],
      [new PermissionDeniedError("not yours"), Code.PermissionDenied],
    ];
    for (const [error, code] of cases) {
      const unexpected: unknown[] = [];
      const wire = toConnectError(error, (e) => unexpected.push(e));
      expect(wire.code).toBe(code);
      expect(wire.rawMessage).toBe(error.message);
      expect(unexpected).toEqual([]);
    }
  });

  it("reports bugs once and answers a bare INTERNAL", () => {
    for (const bug of [
      new TypeError("x is undefined at /srv/app.ts:1"),
      "a string",
      new ServiceError("INTERNAL", "db row missing"),
    ]) {
      const unexpected: unknown[] = [];
      const wire = toConnectError(bug, (e) => unexpected.push(e));
      expect(wire.code).toBe(Code.Internal);
      expect(wire.rawMessage).toBe("internal error");
      expect(unexpected).toEqual([bug]);
    }
  });

  it("leaves protocol errors as they are", () => {
    const error = new ConnectError("incomplete envelope", Code.InvalidArgument);
    expect(toConnectError(error, () => {})).toBe(error);
  });
});
