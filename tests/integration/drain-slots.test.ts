/**
 * Invariant 10 behind a transaction-mode pooler: at most
 * OUTBOX_MAX_CONCURRENT_DRAINS drains work at once, however many containers
 * start them, each container with a pool of its own through the run's
 * PgBouncer (where the session advisory locks the slots used to be stayed on
 * whichever server connection took them). A drain that is killed keeps its
 * slot only until its lease runs out.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseConfig } from "../../lib/config.ts";
import { createPool, type Pool } from "../../lib/db/pool.ts";
import { BoundedDrain } from "../../lib/outbox/bounded-drain.ts";
import { DrainSlots } from "../../lib/outbox/drain-slots.ts";
import { DrainStateRepository } from "../../lib/outbox/drain-state.ts";
import { type DrainSummary, emptySummary } from "../../lib/outbox/summary.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { requirePooler, testDatabase } from "../support/database.ts";

const MAX_DRAINS = 2;
const CONTAINERS = 8;
const LEASE_MS = 30_000;

let db: TestDatabase;
const pools: Pool[] = [];

function containerPool(): Pool {
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 3 });
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  db = await testDatabase("slots");
});
afterAll(async () => {
  for (const pool of pools) await pool.end();
  await db?.drop();
});

describe("drain slots through the pooler", () => {
  it("never let more than the bound of drains work, across containers with pools of their own", async (ctx) => {
    requirePooler(ctx);
    let working = 0;
    let maxWorking = 0;
    const summaries: DrainSummary[] = [];
    const containers = Array.from({ length: CONTAINERS }, () => {
      const pool = containerPool();
      // A drain that works for a while: long enough for the others to find the slots taken.
      const drain = {
        async run() {
          working += 1;
          maxWorking = Math.max(maxWorking, working);
          try {
            await new Promise((resolve) => setTimeout(resolve, 30));
            return emptySummary("drained");
          } finally {
            working -= 1;
          }
        },
      };
      return new BoundedDrain({
        drain,
        slots: new DrainSlots(pool, MAX_DRAINS, LEASE_MS),
        state: new DrainStateRepository(pool),
        outagePauseMs: 1000,
        name: "container",
      });
    });

    // Waves of invocations, every container at once, as an unbounded runtime would start them.
    for (let wave = 0; wave < 15; wave += 1) {
      summaries.push(...(await Promise.all(containers.map((container) => container.run()))));
    }

    expect(maxWorking).toBeLessThanOrEqual(MAX_DRAINS);
    expect(maxWorking).toBeGreaterThanOrEqual(1);
    // The bound was tested: invocations found every slot taken, and did nothing.
    expect(summaries.filter((s) => s.stoppedBy === "no-slot").length).toBeGreaterThan(0);
    expect(summaries.filter((s) => s.stoppedBy === "drained").length).toBeGreaterThan(0);
    // Every slot was given back.
    expect(await new DrainSlots(containerPool(), MAX_DRAINS, LEASE_MS).held()).toBe(0);
  });

  it("keep a killed drain's slot until its lease runs out, then give it to the next drain", async (ctx) => {
    requirePooler(ctx);
    const leaseMs = 4000;
    const pool = containerPool();
    const slots = new DrainSlots(pool, 1, leaseMs);
    const child = startSlotChild(leaseMs);
    try {
      const { slot } = await firstLine<{ slot: number | null }>(child);
      expect(slot).toBe(0);
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));

      // Dead, and it gave nothing back: its row still names it until the lease runs out.
      const { rows } = await pool.query<{ holder: string; ends_in_ms: number }>(
        `SELECT holder, (extract(epoch FROM held_until - clock_timestamp()) * 1000)::int AS ends_in_ms
         FROM outbox_drain_slots WHERE slot = 0`,
      );
      expect(rows[0]?.holder).toMatch(/^killed-child\//);
      const endsInMs = rows[0]?.ends_in_ms ?? 0;
      // Checked only while the lease surely still runs (a stalled machine may have let it run
      // out already): the next drain finds no slot.
      if (endsInMs > 500) {
        const bounded = new BoundedDrain({
          drain: { run: async () => emptySummary("drained") },
          slots,
          state: new DrainStateRepository(pool),
          outagePauseMs: 1000,
        });
        expect((await bounded.run()).stoppedBy).toBe("no-slot");
      }

      // Once it ran out, the slot is free: the next drain gets it without anyone cleaning up.
      let next = await slots.tryAcquire("next");
      while (!next) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        next = await slots.tryAcquire("next");
      }
      expect(next.slot).toBe(0);
      const { rows: after } = await pool.query<{ holder: string }>(
        "SELECT holder FROM outbox_drain_slots WHERE slot = 0 AND held_until > clock_timestamp()",
      );
      expect(after[0]?.holder).toMatch(/^next\//);
      await next.release();
      expect(await slots.held()).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("make their slot rows when first needed, and the new ones when the bound is raised", async (ctx) => {
    requirePooler(ctx);
    const pool = containerPool();
    // A database whose drains never ran: no slot rows yet.
    await pool.query("DELETE FROM outbox_drain_slots");
    const one = await new DrainSlots(pool, 1, 60_000).tryAcquire("one");
    expect(one?.slot).toBe(0);
    // A release with a higher bound: slot 0 is held, slot 1 has no row until this drain needs it.
    const raised = new DrainSlots(pool, 2, 60_000);
    const two = await raised.tryAcquire("two");
    expect(two?.slot).toBe(1);
    expect(await raised.tryAcquire("three")).toBeUndefined();
    await one?.release();
    await two?.release();
    const { rows } = await pool.query<{ slot: number }>("SELECT slot FROM outbox_drain_slots ORDER BY slot");
    expect(rows.map((row) => row.slot)).toEqual([0, 1]);
  });

  it("stop a drain from claiming once its slot is no longer its own", async (ctx) => {
    requirePooler(ctx);
    const pool = containerPool();
    const slots = new DrainSlots(pool, 1, 1500);
    const bounded = new BoundedDrain({
      // Claims batch after batch while it may go on, as OutboxDrain does: it asks the caller's
      // stopWhen, then its time budget, before each claim, and ends with the reason it got.
      drain: {
        async run(options = {}) {
          for (;;) {
            const reason = options.stopWhen?.() ?? ((options.remainingMs?.() ?? 0) > 0 ? undefined : "time");
            if (reason) return emptySummary(reason);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        },
      },
      slots,
      state: new DrainStateRepository(pool),
      outagePauseMs: 1000,
      name: "cut-off",
    });
    const running = bounded.run({ remainingMs: () => 60_000 });
    // What a lease that ran out (a drain cut off from Postgres) ends in: another drain holds the slot.
    for (;;) {
      const { rowCount } = await pool.query(
        `UPDATE outbox_drain_slots SET holder = 'other/1', held_until = clock_timestamp() + interval '1 minute'
         WHERE slot = 0 AND holder LIKE 'cut-off/%'`,
      );
      if (rowCount) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const summary = await running;
    // Noticed at its next renewal (its budget alone would have run a minute: "time"), and it did
    // not give back what is no longer its own.
    expect(summary.stoppedBy).toBe("slot-lost");
    const { rows } = await pool.query<{ holder: string }>(
      "SELECT holder FROM outbox_drain_slots WHERE slot = 0",
    );
    expect(rows[0]?.holder).toBe("other/1");
  });
});

const SLOT_CHILD = fileURLToPath(new URL("../support/drain-slot-child.ts", import.meta.url));

function startSlotChild(leaseMs: number): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", SLOT_CHILD], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      OUTBOX_MAX_CONCURRENT_DRAINS: "1",
      OUTBOX_DRAIN_SLOT_LEASE_MS: String(leaseMs),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
}

function firstLine<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const newline = buffered.indexOf("\n");
      if (newline >= 0) resolve(JSON.parse(buffered.slice(0, newline)) as T);
    });
    child.once("exit", (code) => reject(new Error(`the slot child exited (${code}) before it printed`)));
  });
}
