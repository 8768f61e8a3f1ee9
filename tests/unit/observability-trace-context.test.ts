import { describe, expect, it } from "vitest";
import {
  childOf,
  continueOrStart,
  formatTraceparent,
  newTrace,
  parseTraceparent,
  traceparentOrNew,
} from "../../lib/observability/trace-context.ts";

const VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("traceparent", () => {
  it("parses a valid header and formats it back unchanged", () => {
    const parsed = parseTraceparent(VALID);
    expect(parsed).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      flags: "01",
    });
    expect(parsed && formatTraceparent(parsed)).toBe(VALID);
  });

  it("ignores what the spec says to ignore", () => {
    for (const bad of [
      "",
      "garbage",
      VALID.toUpperCase(),
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      `${VALID}-extra`,
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
    // A future version may append fields; its first four are still read.
    expect(parseTraceparent(`01-${VALID.slice(3)}-more`)?.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  it("continues the caller's trace in a new span, or starts a sampled one", () => {
    const child = continueOrStart(VALID);
    expect(child.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(child.spanId).not.toBe("00f067aa0ba902b7");
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    const started = continueOrStart("nonsense");
    expect(started.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(started.flags).toBe("01");
    expect(newTrace().traceId).not.toBe(newTrace().traceId);
    expect(childOf(started).traceId).toBe(started.traceId);
  });

  it("keeps a stored traceparent as it is, and replaces anything else with a new trace", () => {
    expect(traceparentOrNew(VALID)).toBe(VALID);
    expect(traceparentOrNew("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future")).toBe(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    for (const bad of [
      undefined,
      null,
      "",
      "garbage",
      `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${"0".repeat(16)}-01`,
      VALID.toUpperCase(),
    ]) {
      const made = traceparentOrNew(bad);
      expect(made).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(parseTraceparent(made)).toBeDefined();
      expect(made.slice(3, 35)).not.toBe(VALID.slice(3, 35));
    }
  });
});
