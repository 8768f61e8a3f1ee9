import { describe, expect, it } from "vitest";
import { HoldExpiryJob } from "../../lib/maintenance/hold-expiry.ts";
import { jobsOf, runMaintenance } from "../../lib/maintenance/jobs.ts";
import type { RetentionJob } from "../../lib/maintenance/retention.ts";

describe("maintenance jobs", () => {
  it("a schedule's event names its jobs; none named means all of them; anything else is refused", () => {
    expect(jobsOf({ jobs: ["holds"] })).toEqual(["holds"]);
    expect(jobsOf({})).toEqual(["holds", "retention"]);
    expect(jobsOf(undefined)).toEqual(["holds", "retention"]);
    expect(() => jobsOf({ jobs: ["holds", "vacuum"] })).toThrow(/jobs must be a list of holds, retention/);
    expect(() => jobsOf({ jobs: "holds" })).toThrow(/jobs must be a list/);
  });

  it("runs holds before retention, and only what was asked", async () => {
    const ran: string[] = [];
    const holds = new HoldExpiryJob({
      ledger: {
        expireHolds: async () => {
          ran.push("holds");
          return 0;
        },
      },
    });
    const retention = {
      run: async () => {
        ran.push("retention");
        return {};
      },
    } as unknown as RetentionJob;
    await runMaintenance(["retention", "holds"], { holds, retention });
    expect(ran).toEqual(["holds", "retention"]);
    ran.length = 0;
    expect(await runMaintenance(["holds"], { holds, retention })).toEqual({
      holds: { expired: 0, more: false },
    });
    expect(ran).toEqual(["holds"]);
  });

  it("expires in batches until one comes back short, and says when it stopped with holds still due", async () => {
    const due = [500, 500, 120];
    const asked: number[] = [];
    const job = new HoldExpiryJob({
      ledger: {
        expireHolds: async (limit) => {
          asked.push(limit);
          return due.shift() ?? 0;
        },
      },
      batchSize: 500,
    });
    expect(await job.run()).toEqual({ expired: 1120, more: false });
    expect(asked).toEqual([500, 500, 500]);
    const capped = new HoldExpiryJob({
      ledger: { expireHolds: async () => 10 },
      batchSize: 10,
      maxBatches: 3,
    });
    expect(await capped.run()).toEqual({ expired: 30, more: true });
  });
});
