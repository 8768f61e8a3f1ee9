/**
 * A connection whose session dies mid-transaction is discarded, never handed
 * to the pool's next user, by the transaction helper and by every writer that
 * uses it (consumer inbox, dead-letter repository, redrive). The session is
 * killed for real, with pg_terminate_backend, on a real Postgres.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { databaseConfig } from "../../lib/config.ts";
import { eventTotalsEffect } from "../../lib/consumer/event-totals.ts";
import { InboxProcessor } from "../../lib/consumer/inbox.ts";
import { createPool, type Pool, type PoolClient } from "../../lib/db/pool.ts";
import { withTransaction } from "../../lib/db/transaction.ts";
import { redriveDeadLetter } from "../../lib/dead-letters/redrive.ts";
import { DeadLetterRepository } from "../../lib/dead-letters/repository.ts";
import { newId } from "../../lib/ids.ts";
import { eventMessage } from "../../lib/kafka/messages.ts";
import { traceparentOrNew } from "../../lib/observability/trace-context.ts";
import { freshDatabase } from "../../tools/local-services/postgres.ts";
import { requirePooler, testPooler } from "../support/database.ts";
import { type LedgerFixture, ledgerFixture } from "../support/ledger.ts";
import { authorizedEvent, insertOutboxEvents, validators } from "../support/outbox.ts";

let fx: LedgerFixture;
/** One connection only: whatever the pool hands out next is the connection a broken one would have been. */
let pool: Pool;
const released: Array<{ pid: number; broken: boolean }> = [];

beforeAll(async () => {
  fx = await ledgerFixture();
  // Directly, not through the pooler: the test follows one server session (its pid, its
  // application_name) from inside a transaction to its termination.
  const url = new URL(fx.db.directUrl);
  url.searchParams.set("application_name", "tx-test");
  pool = createPool({ ...databaseConfig({ DATABASE_URL: url.toString() }), poolMax: 1 });
  pool.on("release", (error: Error | undefined, client: PoolClient) => {
    released.push({ pid: (client as unknown as { processID: number }).processID, broken: Boolean(error) });
  });
});
afterAll(async () => {
  await pool?.end();
  await fx?.close();
});
afterEach(() => {
  released.length = 0;
});

async function pidOf(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  return (rows[0] as { pid: number }).pid;
}

/** Kills the session from outside, as a failover or an idle-in-transaction timeout would. */
async function terminate(pid: number): Promise<void> {
  await fx.pool.query("SELECT pg_terminate_backend($1)", [pid]);
}

/** The session of this test's pool that is inside a transaction, seen from outside. */
async function sessionInTransaction(): Promise<number> {
  const { rows } = await fx.pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
     WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
       AND application_name = 'tx-test'`,
  );
  const pid = rows[0]?.pid;
  if (pid === undefined) throw new Error("no session in a transaction");
  return pid;
}

async function expectDiscardedAndPoolHealthy(brokenPid: number): Promise<void> {
  expect(released).toContainEqual({ pid: brokenPid, broken: true });
  const next = await pool.connect();
  try {
    expect(await pidOf(next)).not.toBe(brokenPid);
    expect((await next.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  } finally {
    next.release();
  }
}

describe("withTransaction", () => {
  it("commits what the work wrote, and rolls back (keeping the connection) when the work throws", async () => {
    const id = newId();
    await withTransaction(pool, (c) => c.query("INSERT INTO inbox VALUES ('tx-test', $1, 't', 0, 0)", [id]));
    await expect(
      withTransaction(pool, async (c) => {
        await c.query("DELETE FROM inbox WHERE event_id = $1", [id]);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect((await pool.query("SELECT 1 FROM inbox WHERE event_id = $1", [id])).rowCount).toBe(1);
    expect(released.every((r) => !r.broken)).toBe(true);
  });

  it("discards a connection whose session was killed mid-transaction; the pool's next user works", async () => {
    let pid = 0;
    await expect(
      withTransaction(pool, async (c) => {
        pid = await pidOf(c);
        await terminate(pid);
        await c.query("SELECT 1");
      }),
    ).rejects.toThrow();
    await expectDiscardedAndPoolHealthy(pid);
  });
});

describe("the writers that use it", () => {
  it("consumer inbox", async () => {
    let pid = 0;
    const processor = new InboxProcessor({
      pool,
      consumer: "tx-test",
      validators,
      topics: { prefix: "payments", dlq: "payments.dlq" },
      effect: async (client, event) => {
        pid = await pidOf(client);
        await terminate(pid);
        await eventTotalsEffect("tx-test")(client, event);
      },
    });
    const message = eventMessage("payments", authorizedEvent(), traceparentOrNew(undefined));
    await expect(
      processor.process({
        topic: message.topic,
        partition: 0,
        offset: "0",
        key: null,
        value: Buffer.from(message.value),
        headers: {},
      }),
    ).rejects.toThrow();
    await expectDiscardedAndPoolHealthy(pid);
  });

  it("dead-letter repository", async () => {
    const repository = new DeadLetterRepository(pool);
    let pid = 0;
    await expect(
      repository.withLocked(newId(), async (_stored, markPublished) => {
        pid = await sessionInTransaction();
        await terminate(pid);
        await markPublished(new Date());
      }),
    ).rejects.toThrow();
    await expectDiscardedAndPoolHealthy(pid);
  });

  it("redrive", async () => {
    const [eventId] = await insertOutboxEvents(fx.pool, [{ aggregateId: newId() }]);
    await fx.pool.query("UPDATE outbox SET dead_lettered_at = now() WHERE id = $1", [eventId]);
    await fx.pool.query(
      `INSERT INTO dead_letters (event_id, event, retry_count, error, failed_at) VALUES ($1, '{}', 1, 'x', now())`,
      [eventId],
    );
    // Hold the outbox row so redrive stops mid-transaction, then kill its session there.
    const blocker = await fx.pool.connect();
    let pid = 0;
    try {
      await blocker.query("BEGIN");
      await blocker.query("SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE", [eventId]);
      const redrive = redriveDeadLetter(pool, eventId as string, new Date());
      const settled = redrive.then(
        () => undefined,
        (e: unknown) => e,
      );
      for (let i = 0; i < 100 && pid === 0; i++) {
        pid = await sessionInTransaction().catch(() => 0);
        if (pid === 0) await new Promise((r) => setTimeout(r, 20));
      }
      await terminate(pid);
      expect(await settled).toBeInstanceOf(Error);
    } finally {
      await blocker.query("ROLLBACK");
      blocker.release();
    }
    await expectDiscardedAndPoolHealthy(pid);
  });
});

/**
 * Invariant 12 by construction: every client of a function's pool has an "error" listener, so a
 * session that ends while its client is checked out and idle (a dead-letter hand-off holding its
 * row lock while it publishes, when Postgres restarts) is an error for the next query, never an
 * uncaught exception. Run in a child process, whose exit code says whether it crashed.
 */
describe.each([
  { connected: "directly", throughPooler: false },
  { connected: "through the transaction-mode pooler", throughPooler: true },
])("a client checked out of a function's pool, connected $connected", ({ throughPooler }) => {
  it("survives its session being killed while it idles in a transaction", async (ctx) => {
    if (throughPooler) requirePooler(ctx);
    const db = await freshDatabase(inject("pgAdminUrl"), "checkout", {
      pooler: throughPooler ? testPooler() : undefined,
    });
    try {
      const child = spawn(process.execPath, ["--import", "tsx", CHECKED_OUT_CHILD], {
        env: { ...process.env, DATABASE_URL: db.url },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const pid = await new Promise<number>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString("utf8");
          const match = /^pid (\d+)$/m.exec(output);
          if (match) resolve(Number(match[1]));
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        void exit.then(() => reject(new Error(`the child exited before it was idle:\n${output}`)));
      });
      // A direct session: the server session to end is the one behind the child's transaction.
      const admin = createPool({ ...databaseConfig({ DATABASE_URL: db.directUrl }), poolMax: 1 });
      try {
        await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      } finally {
        await admin.end();
      }
      expect(await exit, output).toBe(0);
      expect(output).toContain("survived");
    } finally {
      await db.drop();
    }
  });
});

const CHECKED_OUT_CHILD = fileURLToPath(new URL("../support/checked-out-client-child.ts", import.meta.url));
