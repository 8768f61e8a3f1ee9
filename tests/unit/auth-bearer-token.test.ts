import { describe, expect, it } from "vitest";
import { bearerToken } from "../../lib/auth/bearer-token.ts";
import { UnauthenticatedError } from "../../lib/auth/errors.ts";

describe("bearerToken", () => {
  it.each([
    ["Bearer abc.def.ghi", "abc.def.ghi"],
    ["bearer abc.def.ghi", "abc.def.ghi"],
    ["Bearer   a-b_c.d~e+f/g=  ", "a-b_c.d~e+f/g="],
  ])("%j -> %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([undefined, null, "", "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "Bearer a b", "Token abc"])(
    "%j is UNAUTHENTICATED",
    (header) => {
      expect(() => bearerToken(header)).toThrow(UnauthenticatedError);
    },
  );
});
