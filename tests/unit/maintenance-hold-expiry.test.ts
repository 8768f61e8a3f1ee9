import { describe, expect, it } from "vitest";
import { HoldExpiryJob } from "../../lib/maintenance/hold-expiry.ts";

describe("hold expiry in the maintenance function", () => {
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
