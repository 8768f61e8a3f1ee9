import { decodeTime, isValid } from "ulid";
import { describe, expect, it } from "vitest";
import { newId } from "../../lib/ids.ts";

describe("newId", () => {
  it("makes valid, unique, sortable ULIDs carrying the current time", () => {
    const before = Date.now();
    const ids = Array.from({ length: 20_000 }, () => newId());
    const after = Date.now();
    expect(ids.every((id) => isValid(id) && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    const time = decodeTime(ids[0] as string);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(after);
  });
});
