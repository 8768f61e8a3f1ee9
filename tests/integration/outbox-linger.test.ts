/**
 * A nudged drain lingers (RunOptions.linger): events committed while it runs
 * need no nudge of their own, so it keeps the fleet-wide nudge throttle
 * (outbox_drain_state) for as long as it runs, and lets it go when it ends so
 * the next payment nudges at once. A scheduled run does neither.
 */
import { describe, expect, it } from "vitest";
import { newId } from "../../lib/ids.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import { BoundedDrain } from "../../lib/outbox/bounded-drain.ts";
import { DrainSlots } from "../../lib/outbox/drain-slots.ts";
import { DrainStateRepository } from "../../lib/outbox/drain-state.ts";
import { createLedgerTopics, readTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import {
  drainSettings,
  drainWithDeadLetters,
  insertOutboxEvents,
  outboxRows,
  outboxTestContext,
} from "../support/outbox.ts";

// Long enough that the run cannot linger out between the steps below, however busy the machine.
const NUDGE_INTERVAL_MS = 2_000;

const ctx = outboxTestContext();

async function lastNudgeAt(): Promise<{ at: string; never: boolean }> {
  const { rows } = await ctx.fx.pool.query<{ at: string; never: boolean }>(
    "SELECT last_nudge_at::text AS at, last_nudge_at = '-infinity' AS never FROM outbox_drain_state",
  );
  return rows[0] as { at: string; never: boolean };
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  // Bounded by the test's timeout; the pause only decides when to look again.
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 25));
}

describe("a nudged drain", () => {
  it("sends what is committed while it lingers, holds the nudge throttle meanwhile, and lets it go at the end", async () => {
    await ctx.fx.pool.query("DELETE FROM outbox");
    const prefix = uniqueTopicPrefix();
    await createLedgerTopics(ctx.kafkaEnv, prefix);
    const settings = drainSettings(prefix, { pollIntervalMs: 20, nudgeMinIntervalMs: NUDGE_INTERVAL_MS });
    const { drain } = drainWithDeadLetters(ctx, prefix, { settings });
    const state = new DrainStateRepository(ctx.fx.pool);
    const bounded = new BoundedDrain({
      drain,
      slots: new DrainSlots(ctx.fx.pool, 1, 30_000),
      state,
      outagePauseMs: 1_000,
      nudgeIntervalMs: NUDGE_INTERVAL_MS,
    });

    // The api's nudge that starts it won the throttle.
    await ctx.fx.pool.query("UPDATE outbox_drain_state SET last_nudge_at = '-infinity'");
    expect(await state.claimNudge(NUDGE_INTERVAL_MS)).toBe(true);
    const won = await lastNudgeAt();

    const running = bounded.run({ linger: true });
    // Committed after the run found the outbox empty: no nudge brings them.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ids = await insertOutboxEvents(
      ctx.fx.pool,
      Array.from({ length: 3 }, () => ({ aggregateId: newId() })),
    );
    await until(async () => (await outboxRows(ctx.fx.pool)).every((r) => r.published_at !== null));
    // It renews the throttle while it runs, so nudges lose: nothing to start a drain for.
    await until(async () => (await lastNudgeAt()).at !== won.at);
    expect(await state.claimNudge(NUDGE_INTERVAL_MS)).toBe(false);

    const summary = await running;
    expect(summary).toMatchObject({ claimed: 3, published: 3, stoppedBy: "drained" });
    // Let go: the next payment nudges at once.
    expect((await lastNudgeAt()).never).toBe(true);
    expect(await state.claimNudge(NUDGE_INTERVAL_MS)).toBe(true);

    const messages = await readTopics(ctx.kafka, [topicFor(prefix, "PaymentAuthorized")]);
    expect(messages.map((m) => m.headers.event_id).sort()).toEqual([...ids].sort());
  });

  it("a scheduled run neither lingers nor touches the throttle", async () => {
    await ctx.fx.pool.query("DELETE FROM outbox");
    const prefix = uniqueTopicPrefix();
    await createLedgerTopics(ctx.kafkaEnv, prefix);
    const settings = drainSettings(prefix, { pollIntervalMs: 20, nudgeMinIntervalMs: NUDGE_INTERVAL_MS });
    const { drain } = drainWithDeadLetters(ctx, prefix, { settings });
    const state = new DrainStateRepository(ctx.fx.pool);
    const bounded = new BoundedDrain({
      drain,
      slots: new DrainSlots(ctx.fx.pool, 1, 30_000),
      state,
      outagePauseMs: 1_000,
      nudgeIntervalMs: NUDGE_INTERVAL_MS,
    });
    await ctx.fx.pool.query("UPDATE outbox_drain_state SET last_nudge_at = '-infinity'");
    expect(await state.claimNudge(NUDGE_INTERVAL_MS)).toBe(true);
    const before = await lastNudgeAt();
    await insertOutboxEvents(ctx.fx.pool, [{ aggregateId: newId() }]);

    const summary = await bounded.run();
    expect(summary).toMatchObject({ claimed: 1, published: 1, stoppedBy: "drained" });
    // It ended once nothing was due, and left the throttle as the nudge set it.
    expect((await lastNudgeAt()).at).toBe(before.at);
  });
});
