import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { toConnectError } from "../../lib/rpc/status-map.ts";

class Refusal extends Error {}
const mapRefusals = (error: unknown) =>
  error instanceof Refusal ? new ConnectError(error.message, Code.FailedPrecondition) : undefined;

describe("toConnectError", () => {
  it("answers what the application maps with its code and message", () => {
    const unexpected: unknown[] = [];
    const wire = toConnectError(new Refusal("not now"), mapRefusals, (e) => unexpected.push(e));
    expect(wire.code).toBe(Code.FailedPrecondition);
    expect(wire.rawMessage).toBe("not now");
    expect(unexpected).toEqual([]);
  });

  it("reports bugs once and answers a bare INTERNAL: unmapped errors, and what maps to INTERNAL", () => {
    const internal = (error: unknown) =>
      error instanceof Refusal ? new ConnectError("row missing", Code.Internal) : undefined;
    for (const [bug, map] of [
      [new TypeError("x is undefined at /srv/app.ts:1"), mapRefusals],
      ["a string", mapRefusals],
      [new Refusal("db row missing"), internal],
      [new Refusal("no mapper"), undefined],
    ] as const) {
      const unexpected: unknown[] = [];
      const wire = toConnectError(bug, map, (e) => unexpected.push(e));
      expect(wire.code).toBe(Code.Internal);
      expect(wire.rawMessage).toBe("internal error");
      expect(unexpected).toEqual([bug]);
    }
  });

  it("tells of an UNAVAILABLE answer, whose cause stays out of the answer", () => {
    const cause = new Error("ECONNREFUSED 10.0.0.1:5432");
    const map = () =>
      new ConnectError("the ledger is unavailable", Code.Unavailable, undefined, undefined, cause);
    const unavailable: ConnectError[] = [];
    const wire = toConnectError(
      new Error("x"),
      map,
      () => {},
      (e) => unavailable.push(e),
    );
    expect(wire.code).toBe(Code.Unavailable);
    expect(wire.rawMessage).toBe("the ledger is unavailable");
    expect(unavailable).toEqual([wire]);
    expect(wire.cause).toBe(cause);
  });

  it("leaves protocol errors as they are", () => {
    const error = new ConnectError("incomplete envelope", Code.InvalidArgument);
    expect(toConnectError(error, undefined, () => {})).toBe(error);
  });
});
