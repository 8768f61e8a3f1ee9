/**
 * Invariant 9 behind a transaction-mode pooler: a call whose deadline has
 * passed writes nothing, even when the pooler held its statement in a queue
 * (PgBouncer waiting for a server connection while Postgres restarts, RDS
 * Proxy borrowing one): the time in the queue is not in the budget the
 * database counts from the statement's start, so authorize_payment also gets
 * the deadline as an instant.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseConfig } from "../../lib/config.ts";
import { createPool, type Pool } from "../../lib/db/pool.ts";
import { ServiceError } from "../../lib/errors.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import { fundAccount, openTreasury } from "../../lib/payments/funding.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { requirePooler, testDatabase } from "../support/database.ts";
import { uniqueKey } from "../support/ledger.ts";

let db: TestDatabase;
const pools: Pool[] = [];

function pool(url: string, poolMax: number): Pool {
  const created = createPool({ ...databaseConfig({ DATABASE_URL: url }), poolMax });
  pools.push(created);
  return created;
}

beforeAll(async () => {
  db = await testDatabase("queued");
});
afterAll(async () => {
  for (const created of pools) await created.end();
  await db?.drop();
});

describe("through the transaction-mode pooler, a payment's deadline", () => {
  it("holds while the pooler queues the payment: past it, nothing is written", async (ctx) => {
    requirePooler(ctx);
    const setup = pool(db.url, 2);
    const service = new PaymentService(new PgLedgerStore(setup), { idempotencyKeyTtlSeconds: 60 });
    const treasury = await openTreasury(service, "EUR");
    const payer = await service.createAccount({ owner: "queued", currency: "EUR", system: false });
    const payee = await service.createAccount({ owner: "queued", currency: "EUR", system: false });
    await fundAccount(service, { treasury, account: payer, amountCents: 1_000n });

    // Every server connection the pooler may open for this database and user (PgBouncer's
    // default_pool_size, 20) held in a transaction: the next statement waits in its queue, as it
    // does while Postgres restarts or RDS Proxy has none to lend.
    const holders: pg.Client[] = [];
    for (let i = 0; i < 20; i += 1) {
      const holder = new pg.Client({ connectionString: db.url });
      holder.on("error", () => {});
      await holder.connect();
      await holder.query("BEGIN");
      await holder.query("SELECT 1");
      holders.push(holder);
    }
    const key = uniqueKey("queued");
    let outcome: Promise<string>;
    try {
      const queued = new PaymentService(new PgLedgerStore(pool(db.url, 1)), { idempotencyKeyTtlSeconds: 60 });
      outcome = queued
        .authorizePayment(
          {
            idempotencyKey: key,
            payerAccountId: payer.accountId,
            payeeAccountId: payee.accountId,
            amountCents: 1n,
            currency: "EUR",
            description: "",
          },
          { owner: "queued", deadline: Date.now() + 300 },
        )
        .then(
          (result) => `answered ${result.status}`,
          (error: unknown) => (error instanceof ServiceError ? error.code : String(error)),
        );
      // Its deadline passes while it waits for a server connection.
      await new Promise((resolve) => setTimeout(resolve, 800));
    } finally {
      for (const holder of holders) {
        await holder.query("COMMIT");
        await holder.end();
      }
    }
    expect(await outcome).toBe("DEADLINE_EXCEEDED");
    const { rows } = await setup.query("SELECT 1 FROM payments WHERE idempotency_key = $1", [key]);
    expect(rows).toEqual([]);
  });
});
