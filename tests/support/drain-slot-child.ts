/**
 * A drain that takes a slot and is then killed, for the slot-lease test: takes
 * one of OUTBOX_MAX_CONCURRENT_DRAINS slots (DATABASE_URL, the lease from
 * OUTBOX_DRAIN_SLOT_LEASE_MS), prints {"slot": n} on stdout, and keeps it,
 * renewing its lease, until the parent kills it.
 */
import { databaseConfig, outboxConfig } from "../../lib/config.ts";
import { createPool } from "../../lib/db/pool.ts";
import { DrainSlots } from "../../lib/outbox/drain-slots.ts";

const config = outboxConfig(process.env);
const slots = new DrainSlots(
  createPool(databaseConfig(process.env)),
  config.maxConcurrentDrains,
  config.drainSlotLeaseMs,
);
const slot = await slots.tryAcquire("killed-child");
process.stdout.write(`${JSON.stringify({ slot: slot?.slot ?? null })}\n`);
setInterval(() => undefined, 60_000);
