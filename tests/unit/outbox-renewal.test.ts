import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renewEvery } from "../../lib/outbox/renewal.ts";

describe("renewEvery", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("renews every period, never two at once, and stop() waits for the one in flight", async () => {
    let calls = 0;
    let finish: (() => void) | undefined;
    const renewal = renewEvery(100, () => {
      calls += 1;
      return new Promise<void>((resolve) => {
        finish = resolve;
      });
    });
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(1);
    // A slow renewal: the ticks while it is out start no other.
    await vi.advanceTimersByTimeAsync(350);
    expect(calls).toBe(1);
    let stopped = false;
    const stopping = renewal.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finish?.();
    await stopping;
    expect(stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(1);
  });

  it("goes on after a renewal that rejects, and the rejection reaches no one", async () => {
    let calls = 0;
    const renewal = renewEvery(10, async () => {
      calls += 1;
      throw new Error("Postgres restarting");
    });
    await vi.advanceTimersByTimeAsync(35);
    expect(calls).toBe(3);
    await renewal.stop();
  });
});
