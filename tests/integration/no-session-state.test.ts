/**
 * Invariant 11: the functions keep no session state in Postgres, so they work
 * behind any transaction-mode pooler (PgBouncer here, RDS Proxy in production).
 *
 * - What a pooler refuses: the run's PgBouncer (Debian's defaults, transaction
 *   mode) refuses startup parameters, as the functions' pools once sent; their
 *   pools send none, and still get the statement bound (a role default).
 * - What a pooler breaks: a named statement prepared on one server session is
 *   missing on the next; the ledger's statements are unnamed.
 * - What is left behind: every kind of work the functions do, run on ONE
 *   direct session, leaves that session exactly as it found it.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseConfig, retentionConfig } from "../../lib/config.ts";
import { eventTotalsEffect } from "../../lib/consumer/event-totals.ts";
import { InboxProcessor } from "../../lib/consumer/inbox.ts";
import { translateDbError } from "../../lib/db/errors.ts";
import { pingDatabase } from "../../lib/db/ping.ts";
import { createPool, type Pool } from "../../lib/db/pool.ts";
import { ServiceError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import { eventMessage } from "../../lib/kafka/messages.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import { RetentionJob } from "../../lib/maintenance/retention.ts";
import { RetentionRepository } from "../../lib/maintenance/retention-repository.ts";
import { traceparentOrNew } from "../../lib/observability/trace-context.ts";
import { BoundedDrain } from "../../lib/outbox/bounded-drain.ts";
import { DrainSlots } from "../../lib/outbox/drain-slots.ts";
import { DrainStateRepository } from "../../lib/outbox/drain-state.ts";
import { fundAccount, openTreasury } from "../../lib/payments/funding.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { requirePooler, testDatabase } from "../support/database.ts";
import { createLedgerTopics, sharedKafkaEnv, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { uniqueKey } from "../support/ledger.ts";
import {
  authorizedEvent,
  deadLetterService,
  drainSettings,
  InProcessDeadLetters,
  insertOutboxEvents,
  testDrain,
  validators,
} from "../support/outbox.ts";

const STATEMENT_TIMEOUT_MS = 400;

let db: TestDatabase;
const pools: Pool[] = [];
const closers: (() => Promise<unknown>)[] = [];

function pool(url: string, poolMax: number): Pool {
  const created = createPool({ ...databaseConfig({ DATABASE_URL: url }), poolMax });
  pools.push(created);
  return created;
}

beforeAll(async () => {
  // A short bound, so a statement past it is quick to show.
  db = await testDatabase("nostate", { statementTimeoutMs: STATEMENT_TIMEOUT_MS });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  for (const created of pools) await created.end();
  await db?.drop();
});

async function refusal(config: pg.ClientConfig): Promise<string> {
  const client = new pg.Client(config);
  client.on("error", () => {});
  try {
    await client.connect();
    return "connected";
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

describe("through the transaction-mode pooler", () => {
  it("startup parameters are refused, as the functions' pools once sent them; their pools send none", async (ctx) => {
    requirePooler(ctx);
    // What lib/db/pool.ts sent before: the statement bound, and the drain's synchronous_commit.
    expect(await refusal({ connectionString: db.url, statement_timeout: 5000 })).toBe(
      "unsupported startup parameter: statement_timeout",
    );
    expect(await refusal({ connectionString: db.url, options: "-c synchronous_commit=off" })).toBe(
      "unsupported startup parameter: options",
    );
    const functions = pool(db.url, 2);
    const { rows } = await functions.query<{ statement_timeout: string }>("SHOW statement_timeout");
    expect(rows[0]?.statement_timeout).toBe(`${STATEMENT_TIMEOUT_MS}ms`);
  });

  it("the statement bound holds on every server connection: a longer statement ends DEADLINE_EXCEEDED", async (ctx) => {
    requirePooler(ctx);
    const functions = pool(db.url, 4);
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () =>
        functions.query("SELECT pg_sleep(5)").then(
          () => "finished",
          (error: unknown) => {
            try {
              translateDbError(error);
            } catch (translated) {
              return translated instanceof ServiceError ? translated.code : String(translated);
            }
            return "untranslated";
          },
        ),
      ),
    );
    expect(outcomes).toEqual(Array(4).fill("DEADLINE_EXCEEDED"));
  });

  it("a named statement is lost between transactions; the ledger's unnamed ones are not", async (ctx) => {
    requirePooler(ctx);
    const setup = pool(db.url, 2);
    const service = new PaymentService(new PgLedgerStore(setup), { idempotencyKeyTtlSeconds: 60 });
    const treasury = await openTreasury(service, "EUR");
    const payer = await service.createAccount({ owner: "named", currency: "EUR", system: false });
    const payee = await service.createAccount({ owner: "named", currency: "EUR", system: false });
    await fundAccount(service, { treasury, account: payer, amountCents: 1_000n });

    // Two sessions held in transactions steer the store's next statement to the other server connection.
    const holders = [
      new pg.Client({ connectionString: db.url }),
      new pg.Client({ connectionString: db.url }),
    ];
    for (const holder of holders) {
      holder.on("error", () => {});
      await holder.connect();
      closers.push(() => holder.end());
    }
    const [first, second] = holders as [pg.Client, pg.Client];
    const payOnce = (store: PgLedgerStore) =>
      new PaymentService(store, { idempotencyKeyTtlSeconds: 60 }).authorizePayment({
        idempotencyKey: uniqueKey("named"),
        payerAccountId: payer.accountId,
        payeeAccountId: payee.accountId,
        amountCents: 1n,
        currency: "EUR",
        description: "",
      });
    const payTwiceAcrossServerConnections = async (store: PgLedgerStore) => {
      await first.query("BEGIN");
      await first.query("SELECT 1");
      // Lands on a server connection other than first's: prepared there, if named.
      const before = await payOnce(store);
      await second.query("BEGIN");
      await second.query("SELECT 1");
      await first.query("COMMIT");
      try {
        // second holds that server connection now: this lands on first's.
        return [before, await payOnce(store)];
      } finally {
        await second.query("COMMIT");
      }
    };

    const named = new PgLedgerStore(pool(db.url, 1), { namedStatements: true });
    await expect(payTwiceAcrossServerConnections(named)).rejects.toThrow(
      'prepared statement "authorize_payment" does not exist',
    );
    const unnamed = new PgLedgerStore(pool(db.url, 1));
    const results = await payTwiceAcrossServerConnections(unnamed);
    expect(results.map((r) => r.status)).toEqual(["AUTHORIZED", "AUTHORIZED"]);
  });
});

describe("on one session of its own", () => {
  it("the drain's writes skip the flush wait for their own transaction only", async () => {
    // Directly: SHOW must read the same server session as the statement before it.
    const session = pool(db.directUrl, 1);
    const client = await session.connect();
    try {
      // This session's own default, whatever the test server's (it may run without flush waits).
      await client.query("SET synchronous_commit = on");
      await client.query("BEGIN");
      await client.query("SELECT commit_without_flush_wait()");
      expect((await client.query("SHOW synchronous_commit")).rows).toEqual([{ synchronous_commit: "off" }]);
      await client.query("COMMIT");
      expect((await client.query("SHOW synchronous_commit")).rows).toEqual([{ synchronous_commit: "on" }]);
    } finally {
      // Not back to the pool: its session carries the SET above.
      client.release(true);
    }
  });

  it("everything the functions do leaves no session state behind", async () => {
    // Directly, not through the pooler: session state lives in one server session, which only a
    // direct connection keeps from one statement to the next for the test to inspect.
    const session = pool(db.directUrl, 1);
    const pidOf = async () =>
      (await session.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    const pid = await pidOf();

    // The api: accounts, payments, reads, the hot-account roll-up, the nudge's gate, the health probe.
    const store = new PgLedgerStore(session, { rollUpEvery: 1 });
    const service = new PaymentService(store, { idempotencyKeyTtlSeconds: 60 });
    const treasury = await openTreasury(service, "EUR");
    const payer = await service.createAccount({ owner: "s", currency: "EUR", system: false });
    const payee = await service.createAccount({ owner: "s", currency: "EUR", system: false, hot: true });
    await fundAccount(service, { treasury, account: payer, amountCents: 1_000n });
    const payment = await service.authorizePayment(
      {
        idempotencyKey: uniqueKey("session"),
        payerAccountId: payer.accountId,
        payeeAccountId: payee.accountId,
        amountCents: 10n,
        currency: "EUR",
        description: "",
      },
      { owner: "s", deadline: Date.now() + 5_000 },
    );
    await service.getPayment(payment.paymentId);
    await service.getAccountBalance(payee.accountId);
    await service.listLedgerEntries({ accountId: payer.accountId, pageSize: 10, pageToken: "" });
    const state = new DrainStateRepository(session);
    await state.claimNudge(0);
    expect(await pingDatabase(session, 1000)).toBe(true);

    // The drain (its slot, claims, marks, a dead letter) and the dead-letter function.
    const prefix = uniqueTopicPrefix();
    const kafkaEnv = sharedKafkaEnv();
    await createLedgerTopics(kafkaEnv, prefix);
    const { service: deadLetterFunction, publisher: dlqPublisher } = deadLetterService(
      session,
      kafkaEnv,
      `${prefix}.dlq`,
    );
    const { drain, publisher } = testDrain({
      pool: session,
      kafka: kafkaEnv,
      settings: drainSettings(prefix),
      deadLetters: new InProcessDeadLetters(deadLetterFunction),
    });
    closers.push(
      () => publisher.close(),
      () => dlqPublisher.close(),
    );
    await insertOutboxEvents(session, [{ aggregateId: newId(), payload: { not: "a payment" } }]);
    const summary = await new BoundedDrain({
      drain,
      slots: new DrainSlots(session, 2, 30_000),
      state,
      outagePauseMs: 1000,
    }).run();
    expect(summary).toMatchObject({ stoppedBy: "drained", deadLettered: 1 });
    expect(summary.published).toBeGreaterThan(0);

    // The maintenance function, and the sample consumer's inbox.
    await new RetentionJob({
      repository: new RetentionRepository(session),
      clock: { now: () => new Date() },
      config: retentionConfig({}),
    }).run();
    const message = eventMessage(
      prefix,
      authorizedEvent({ payment_id: payment.paymentId }),
      traceparentOrNew(undefined),
    );
    await new InboxProcessor({
      pool: session,
      consumer: "session",
      validators,
      topics: { prefix, dlq: `${prefix}.dlq` },
      effect: eventTotalsEffect("session"),
    }).process({
      topic: message.topic,
      partition: 0,
      offset: "0",
      key: Buffer.from(message.key ?? ""),
      value: Buffer.from(message.value),
      headers: message.headers ?? {},
    });

    // The same session all along, and nothing of it outlives a transaction.
    expect(await pidOf()).toBe(pid);
    const leftovers = await session.query(`
      SELECT 'setting' AS kind, name || '=' || setting AS what FROM pg_settings WHERE source = 'session'
      UNION ALL SELECT 'prepared statement', name FROM pg_prepared_statements
      UNION ALL SELECT 'cursor', name FROM pg_cursors
      UNION ALL SELECT 'listen', channel FROM pg_listening_channels() AS channel
      UNION ALL SELECT 'advisory lock', objid::text FROM pg_locks
        WHERE locktype = 'advisory' AND pid = pg_backend_pid()
      UNION ALL SELECT 'temporary table', relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()`);
    expect(leftovers.rows).toEqual([]);
  });
});
