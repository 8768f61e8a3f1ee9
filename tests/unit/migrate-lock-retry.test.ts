import { describe, expect, it } from "vitest";
import { isLockConflict } from "../../lib/db/errors.ts";
import { lockRetryPauseMs } from "../../lib/db/migrate.ts";

describe("migrate's pause before it tries its locks again", () => {
  it("doubles from 0.25 s to at most 8 s, between half and all of it", () => {
    const lowest = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => lockRetryPauseMs(attempt, () => 0));
    const highest = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => lockRetryPauseMs(attempt, () => 1));
    expect(highest).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    expect(lowest).toEqual([125, 250, 500, 1000, 2000, 4000, 4000, 4000]);
  });
});

describe("what counts as a lock conflict", () => {
  it("a lock timeout or a deadlock, also when a library wrapped it", () => {
    const timeout = Object.assign(new Error("canceling statement due to lock timeout"), { code: "55P03" });
    const deadlock = Object.assign(new Error("deadlock detected"), { code: "40P01" });
    expect(isLockConflict(timeout)).toBe(true);
    expect(isLockConflict(new Error("migration failed", { cause: deadlock }))).toBe(true);
    expect(isLockConflict(Object.assign(new Error("statement timeout"), { code: "57014" }))).toBe(false);
    expect(isLockConflict(new Error("division by zero"))).toBe(false);
    expect(isLockConflict(undefined)).toBe(false);
  });
});
