import { describe, expect, it } from "vitest";
import { tracingConfig } from "../../lib/config.ts";
import { parseTraceparent } from "../../lib/observability/trace-context.ts";
import {
  continueOrStartFromXRay,
  currentXRayTraceHeader,
  isSampled,
  parseXRayTraceHeader,
  traceContextFromXRay,
  w3cTraceId,
  xrayTraceId,
} from "../../lib/observability/xray-ids.ts";

// The example of the X-Ray documentation.
const ROOT = "1-5759e988-bd862e3fe1be46a994272793";
const W3C = "5759e988bd862e3fe1be46a994272793";
const LAMBDA_HEADER = `Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0`;

describe("X-Ray and W3C trace ids", () => {
  it("splits a W3C trace id after eight hex digits, and joins it back", () => {
    expect(xrayTraceId(W3C)).toBe(ROOT);
    expect(w3cTraceId(ROOT)).toBe(W3C);
    expect(w3cTraceId(ROOT.toUpperCase())).toBe(W3C);
  });

  it("refuses what is not an id of either kind", () => {
    for (const bad of ["", "5759e988", `${W3C}0`, W3C.toUpperCase(), "0".repeat(32), `${W3C.slice(1)}g`]) {
      expect(xrayTraceId(bad), bad).toBeUndefined();
    }
    for (const bad of [
      "",
      W3C,
      "2-5759e988-bd862e3fe1be46a994272793",
      "1-5759e98-8bd862e3fe1be46a994272793",
    ]) {
      expect(w3cTraceId(bad), bad).toBeUndefined();
    }
    expect(w3cTraceId("1-00000000-000000000000000000000000")).toBeUndefined();
  });
});

describe("X-Ray trace header", () => {
  it("reads Root, Parent and Sampled in any order and case, ignoring other fields", () => {
    expect(parseXRayTraceHeader(LAMBDA_HEADER)).toEqual({
      root: ROOT,
      parent: "53995c3f42cd8ad8",
      sampled: "1",
    });
    expect(parseXRayTraceHeader(` sampled=0 ; PARENT=53995C3F42CD8AD8; root=${ROOT.toUpperCase()}`)).toEqual({
      root: ROOT,
      parent: "53995c3f42cd8ad8",
      sampled: "0",
    });
    expect(parseXRayTraceHeader(`Root=${ROOT}`)).toEqual({
      root: ROOT,
      parent: undefined,
      sampled: undefined,
    });
  });

  it("is undefined without a valid Root", () => {
    for (const bad of [undefined, null, "", "Parent=53995c3f42cd8ad8;Sampled=1", "Root=garbage;Sampled=1"]) {
      expect(parseXRayTraceHeader(bad), String(bad)).toBeUndefined();
    }
  });
});

describe("traceContextFromXRay", () => {
  it("is the invocation's trace, with the function's segment as the span", () => {
    expect(traceContextFromXRay(LAMBDA_HEADER)).toEqual({
      traceId: W3C,
      spanId: "53995c3f42cd8ad8",
      flags: "01",
    });
  });

  it("is unsampled unless X-Ray sampled the invocation", () => {
    for (const sampled of ["0", "?", ""]) {
      const context = traceContextFromXRay(`Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=${sampled}`);
      expect(context?.flags, sampled).toBe("00");
      expect(context && isSampled(context)).toBe(false);
    }
  });

  it("is undefined when nothing could link to it (no Parent, bad Parent, no header)", () => {
    expect(traceContextFromXRay(`Root=${ROOT};Sampled=1`)).toBeUndefined();
    expect(traceContextFromXRay(`Root=${ROOT};Parent=0000000000000000;Sampled=1`)).toBeUndefined();
    expect(traceContextFromXRay(`Root=${ROOT};Parent=53995c3f;Sampled=1`)).toBeUndefined();
    expect(traceContextFromXRay(undefined)).toBeUndefined();
  });
});

describe("continueOrStartFromXRay", () => {
  const CLIENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  it("continues a client's traceparent: its trace, a new span", () => {
    const context = continueOrStartFromXRay(CLIENT, LAMBDA_HEADER);
    expect(context.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(context.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(context.spanId).not.toBe("00f067aa0ba902b7");
    expect(context.flags).toBe("01");
  });

  it("without one, is the X-Ray trace; outside X-Ray, a new sampled trace", () => {
    expect(continueOrStartFromXRay(undefined, LAMBDA_HEADER)).toEqual(traceContextFromXRay(LAMBDA_HEADER));
    expect(continueOrStartFromXRay("garbage", LAMBDA_HEADER).traceId).toBe(W3C);
    const fresh = continueOrStartFromXRay(undefined, undefined);
    expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(isSampled(fresh)).toBe(true);
  });

  it("reads the sampled bit only", () => {
    const flags = (f: string) => isSampled(parseTraceparent(`00-${W3C}-00f067aa0ba902b7-${f}`) ?? fail());
    expect([flags("01"), flags("03"), flags("00"), flags("02")]).toEqual([true, true, false, false]);
  });
});

describe("tracingConfig", () => {
  it("is off by default, with a per-batch cap on publish segments", () => {
    expect(tracingConfig({})).toEqual({ enabled: false, publishSegmentsPerBatch: 20 });
    expect(tracingConfig({ XRAY_TRACING_ENABLED: "true", XRAY_PUBLISH_SEGMENTS_PER_BATCH: "0" })).toEqual({
      enabled: true,
      publishSegmentsPerBatch: 0,
    });
    expect(() => tracingConfig({ XRAY_TRACING_ENABLED: "yes" })).toThrow(/XRAY_TRACING_ENABLED/);
  });
});

function fail(): never {
  throw new Error("unparsable traceparent");
}

describe("currentXRayTraceHeader", () => {
  it("is the invocation's _X_AMZN_TRACE_ID outside a multi-concurrency sandbox", () => {
    expect(currentXRayTraceHeader({ _X_AMZN_TRACE_ID: LAMBDA_HEADER })).toBe(LAMBDA_HEADER);
    expect(currentXRayTraceHeader({})).toBeUndefined();
  });
});
