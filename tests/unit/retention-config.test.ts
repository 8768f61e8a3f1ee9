import { describe, expect, it } from "vitest";
import { ConfigError, retentionConfig } from "../../lib/config.ts";

describe("retention settings", () => {
  it("bound a run by time, with documented defaults", () => {
    expect(retentionConfig({})).toEqual({
      outboxMs: 7 * 86_400_000,
      inboxMs: 7 * 86_400_000,
      redrivenDeadLetterMs: 30 * 86_400_000,
      batchSize: 5000,
      timeMarginMs: 10_000,
    });
    expect(retentionConfig({ RETENTION_TIME_MARGIN_MS: "2500", OUTBOX_RETENTION: "90s" })).toMatchObject({
      outboxMs: 90_000,
      timeMarginMs: 2500,
    });
  });

  it("refuses the batch count it no longer reads instead of ignoring it", () => {
    expect(() => retentionConfig({ RETENTION_MAX_BATCHES: "200" })).toThrow(ConfigError);
    expect(() => retentionConfig({ RETENTION_MAX_BATCHES: "200" })).toThrow(/RETENTION_TIME_MARGIN_MS/);
  });
});
