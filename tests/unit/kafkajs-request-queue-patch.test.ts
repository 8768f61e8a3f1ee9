/**
 * patches/kafkajs+2.2.4.patch: a connection's request queue, when nothing is
 * throttled (throttledUntil -1), scheduled its next check with a negative
 * delay; Node 24 prints a TimeoutNegativeWarning for each connection. The
 * patched queue never asks setTimeout for less than 1 ms.
 */
import { createRequire } from "node:module";
import { afterEach, describe, expect, it, vi } from "vitest";

interface RequestQueue {
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  scheduleCheckPendingRequests(): void;
}

const require = createRequire(import.meta.url);
const RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as new (options: {
  maxInFlightRequests: number | null;
  requestTimeout: number;
  enforceRequestTimeout: boolean;
  clientId: string;
  broker: string;
  logger: { namespace: () => Record<string, () => void> };
}) => RequestQueue;

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

afterEach(() => vi.restoreAllMocks());

describe("kafkajs request queue (patched)", () => {
  it("schedules its check with a positive delay when nothing is throttled", async () => {
    const queue = new RequestQueue({
      maxInFlightRequests: null,
      requestTimeout: 30_000,
      enforceRequestTimeout: true,
      clientId: "test",
      broker: "localhost:9092",
      logger: { namespace: () => quiet },
    });
    expect(queue.throttledUntil).toBeLessThan(Date.now());
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    const schedule = vi.spyOn(globalThis, "setTimeout");
    try {
      queue.scheduleCheckPendingRequests();
      expect(schedule).toHaveBeenCalledTimes(1);
      expect(schedule.mock.calls[0]?.[1]).toBeGreaterThanOrEqual(1);
      // Node emits process warnings on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain("TimeoutNegativeWarning");
    } finally {
      process.off("warning", onWarning);
      if (queue.throttleCheckTimeoutId) clearTimeout(queue.throttleCheckTimeoutId);
    }
  });
});
