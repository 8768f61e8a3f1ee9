import { describe, expect, it } from "vitest";
import { untilAborted } from "../../lib/abortable.ts";

describe("untilAborted", () => {
  it("settles as the promise does while the signal stays quiet", async () => {
    const signal = new AbortController().signal;
    await expect(untilAborted(Promise.resolve(7), signal)).resolves.toBe(7);
    await expect(untilAborted(Promise.reject(new Error("boom")), signal)).rejects.toThrow("boom");
  });

  it("rejects with the signal's reason, or the mapped one, as soon as it aborts", async () => {
    const controller = new AbortController();
    const pending = untilAborted(new Promise<never>(() => {}), controller.signal);
    const mapped = untilAborted(new Promise<never>(() => {}), controller.signal, () => new Error("mapped"));
    controller.abort(new Error("gave up"));
    await expect(pending).rejects.toThrow("gave up");
    await expect(mapped).rejects.toThrow("mapped");
  });

  it("an already aborted signal rejects at once, and a later failure of the work is not unhandled", async () => {
    let fail: (error: Error) => void = () => {};
    const work = new Promise<never>((_, reject) => {
      fail = reject;
    });
    await expect(untilAborted(work, AbortSignal.abort(new Error("too late")))).rejects.toThrow("too late");
    fail(new Error("the work failed afterwards"));
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
});
