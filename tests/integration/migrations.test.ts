import { copyFile, cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runner } from "node-pg-migrate";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { databaseConfig } from "../../lib/config.ts";
import { createEventTotalsTable } from "../../lib/consumer/event-totals.ts";
import {
  defaultMigrationsDir,
  defaultSqlFunctionsDir,
  MIGRATIONS_TABLE,
  migrate,
  migrationFromEnv,
} from "../../lib/db/migrate.ts";
import { createPool } from "../../lib/db/pool.ts";
import { newId } from "../../lib/ids.ts";
import { CREATE_ACCOUNT_SQL } from "../../lib/ledger/read-queries.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { requirePooler, testDatabase } from "../support/database.ts";

// What the release before the rename shipped as its second migration, verbatim.
const OLD_OUTBOX_DELIVERY_SQL = `-- Up Migration
ALTER TABLE outbox SET (fillfactor = 50);
CREATE TABLE inbox (
  consumer      text NOT NULL CHECK (length(consumer) BETWEEN 1 AND 255),
  event_id      ulid NOT NULL,
  topic         text NOT NULL,
  kafka_partition integer NOT NULL,
  kafka_offset  bigint NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
CREATE TABLE sample_event_totals (
  consumer      text NOT NULL,
  event_type    text NOT NULL,
  currency      text NOT NULL,
  events        bigint NOT NULL DEFAULT 0,
  amount_cents  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (consumer, event_type, currency)
);
-- Down Migration
DROP TABLE sample_event_totals;
DROP TABLE inbox;
ALTER TABLE outbox RESET (fillfactor);
`;

const adminUrl = inject("pgAdminUrl");
const created: TestDatabase[] = [];
let oldDir: string;
// The previous release's SQL functions: only what its schema can hold (today's
// files reference tables that release did not have).
let oldFunctionsDir: string;

// Migrations run on a direct session here unless a test says otherwise (as MIGRATION_DATABASE_URL
// points migrate at Postgres itself); `pooledUrl` is the same database through the run's pooler.
async function emptyDatabase(): Promise<{
  url: string;
  pooledUrl: string;
  query: <R extends pg.QueryResultRow>(sql: string) => Promise<R[]>;
  drop(): Promise<void>;
}> {
  const database = await testDatabase("mig", { migrate: false });
  created.push(database);
  const url = database.directUrl;
  return {
    url,
    pooledUrl: database.url,
    query: async <R extends pg.QueryResultRow>(sql: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<R>(sql)).rows;
      } finally {
        await client.end();
      }
    },
    drop: database.drop,
  };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function currentMigrationNames(): Promise<string[]> {
  return (await readdir(defaultMigrationsDir()))
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => f.replace(/\.sql$/, ""));
}

beforeAll(async () => {
  // The previous release's migrations folder: the ledger migration as it is, the second one under its old name.
  oldDir = await mkdtemp(join(tmpdir(), "old-migrations-"));
  await copyFile(
    join(defaultMigrationsDir(), "1732800000000_ledger.sql"),
    join(oldDir, "1732800000000_ledger.sql"),
  );
  await writeFile(join(oldDir, "1732900000000_outbox_delivery.sql"), OLD_OUTBOX_DELIVERY_SQL);
  oldFunctionsDir = join(oldDir, "functions");
  await mkdir(oldFunctionsDir);
  await copyFile(join(defaultSqlFunctionsDir(), "010_rfc3339.sql"), join(oldFunctionsDir, "010_rfc3339.sql"));
});

afterAll(async () => {
  for (const database of created) await database.drop();
  if (oldDir) await rm(oldDir, { recursive: true, force: true });
});

describe("migrations of a database the previous release migrated", () => {
  it("node-pg-migrate alone refuses it (why the recorded name is rewritten first)", async () => {
    const db = await emptyDatabase();
    await migrate({ databaseUrl: db.url, dir: oldDir, functionsDir: oldFunctionsDir });
    await expect(
      runner({
        databaseUrl: db.url,
        dir: defaultMigrationsDir(),
        direction: "up",
        migrationsTable: MIGRATIONS_TABLE,
        checkOrder: true,
        log: () => {},
      }),
    ).rejects.toThrow(/1732900000000/);
  });

  it("migrate renames the recorded migration, drops the demo table and leaves the inbox", async () => {
    const db = await emptyDatabase();
    await migrate({ databaseUrl: db.url, dir: oldDir, functionsDir: oldFunctionsDir });
    await db.query(
      "INSERT INTO sample_event_totals (consumer, event_type, currency) VALUES ('c', 'PaymentAuthorized', 'EUR')",
    );
    await db.query(
      "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset) VALUES ('c', '01J0000000000000000000000A', 't', 0, 0)",
    );

    const messages: string[] = [];
    const result = await migrate({ databaseUrl: db.url, log: (m) => messages.push(m) });
    // Everything after the renamed one: the demo table's drop first.
    expect(result.applied).toEqual((await currentMigrationNames()).slice(2));
    expect(result.applied[0]).toBe("1733000000000_drop_demo_event_totals");
    expect(messages).toContain(
      "recorded migration 1732900000000_outbox_delivery renamed to 1732900000000_consumer_inbox_and_outbox_fillfactor",
    );
    const recorded = await db.query<{ name: string }>(
      `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY run_on, id`,
    );
    expect(recorded.map((r) => r.name)).toEqual(await currentMigrationNames());
    const [tables] = await db.query<{ totals: string | null; inbox: string | null }>(
      "SELECT to_regclass('sample_event_totals')::text AS totals, to_regclass('inbox')::text AS inbox",
    );
    expect(tables).toEqual({ totals: null, inbox: "inbox" });
    expect(await db.query("SELECT consumer FROM inbox")).toEqual([{ consumer: "c" }]);

    // Idempotent: a second run (or a second deploy) finds nothing to rename or apply.
    expect((await migrate({ databaseUrl: db.url })).applied).toEqual([]);
  });
});

describe("migrations of a fresh database", () => {
  it("hold no demo table; the sample consumer creates its own", async () => {
    const db = await emptyDatabase();
    const result = await migrate({ databaseUrl: db.url });
    expect(result.applied).toEqual(await currentMigrationNames());
    const [before] = await db.query<{ totals: string | null }>(
      "SELECT to_regclass('sample_event_totals')::text AS totals",
    );
    expect(before?.totals).toBeNull();

    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await createEventTotalsTable(pool);
      const [after] = await db.query<{ totals: string | null }>(
        "SELECT to_regclass('sample_event_totals')::text AS totals",
      );
      expect(after?.totals).toBe("sample_event_totals");
    } finally {
      await pool.end();
    }
  });
});

describe("migrate through a transaction-mode pooler", () => {
  it("is safe: concurrent runs apply each migration once, in one transaction each, and leave no lock behind", async (ctx) => {
    requirePooler(ctx);
    const db = await emptyDatabase();
    // Three deploys at once, every one through the pooler (its server connections shared).
    const results = await Promise.all(
      Array.from({ length: 3 }, () => migrate({ databaseUrl: db.pooledUrl, statementTimeoutMs: 1234 })),
    );
    const names = await currentMigrationNames();
    // One of them applied everything; the others waited for its lock, then found nothing to do.
    expect(results.map((r) => r.applied.length).sort((a, b) => a - b)).toEqual([0, 0, names.length]);
    const recorded = await db.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`);
    expect(recorded.map((r) => r.name)).toEqual(names);
    expect(await db.query("SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted")).toEqual([]);
    // The role's default, for every server session opened from now on. (The pooler's sessions
    // opened before it, such as the one migrate just used, keep the old value until they are
    // replaced: why MIGRATION_DATABASE_URL names Postgres itself, docs/deploying.md.)
    expect(await db.query("SHOW statement_timeout")).toEqual([{ statement_timeout: "1234ms" }]);
  });

  it("goes to MIGRATION_DATABASE_URL while the functions use the pooler, and sets the functions' role", async (ctx) => {
    requirePooler(ctx);
    const db = await emptyDatabase();
    const env = {
      DATABASE_URL: db.pooledUrl,
      MIGRATION_DATABASE_URL: db.url,
      DB_STATEMENT_TIMEOUT_MS: "2500",
    };
    const result = await migrationFromEnv(env)();
    expect(result.applied).toEqual(await currentMigrationNames());
    // Migrate never went through the pooler, so every server session it opens for the functions
    // starts with the bound.
    const functions = createPool(databaseConfig(env));
    try {
      const { rows } = await functions.query<{ statement_timeout: string }>("SHOW statement_timeout");
      expect(rows[0]?.statement_timeout).toBe("2500ms");
      expect((await functions.query("SELECT count(*)::int AS n FROM accounts")).rows).toEqual([{ n: 0 }]);
    } finally {
      await functions.end();
    }
    // 0 removes the bound (for sessions opened after it).
    await migrationFromEnv({ ...env, DB_STATEMENT_TIMEOUT_MS: "0" })();
    expect(await db.query("SHOW statement_timeout")).toEqual([{ statement_timeout: "0" }]);
  });
});

describe("migrate", () => {
  it("sets the statement bound of the role the functions log in as, not its own", async () => {
    const db = await emptyDatabase();
    const role = `fn_${Date.now().toString(36)}`;
    await admin(`CREATE ROLE ${role} LOGIN PASSWORD 'fn-password'`);
    try {
      const functionsUrl = new URL(db.url);
      functionsUrl.username = role;
      functionsUrl.password = "fn-password";
      await migrationFromEnv({
        DATABASE_URL: functionsUrl.toString(),
        MIGRATION_DATABASE_URL: db.url,
        DB_STATEMENT_TIMEOUT_MS: "3100",
      })();
      const asFunctions = new pg.Client({ connectionString: functionsUrl.toString() });
      await asFunctions.connect();
      try {
        expect((await asFunctions.query("SHOW statement_timeout")).rows).toEqual([
          { statement_timeout: "3100ms" },
        ]);
      } finally {
        await asFunctions.end();
      }
      expect(await db.query("SHOW statement_timeout")).toEqual([{ statement_timeout: "0" }]);
    } finally {
      // First: the role has settings in it.
      await db.drop();
      await admin(`DROP ROLE ${role}`);
    }
  });

  it("is all or nothing: a failing migration leaves the schema, the functions and the role as they were", async () => {
    const db = await emptyDatabase();
    const dir = await mkdtemp(join(tmpdir(), "broken-migrations-"));
    try {
      await cp(defaultMigrationsDir(), dir, { recursive: true });
      await writeFile(join(dir, "1999999999999_broken.sql"), "-- Up Migration\nSELECT 1 / 0;\n");
      await expect(migrate({ databaseUrl: db.url, dir, statementTimeoutMs: 777 })).rejects.toThrow(
        "division by zero",
      );
      const [state] = await db.query<{ migrations: string | null; functions: number; settings: number }>(
        `SELECT to_regclass('${MIGRATIONS_TABLE}')::text AS migrations,
                (SELECT count(*)::int FROM pg_proc WHERE proname = 'authorize_payment') AS functions,
                (SELECT count(*)::int FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                 WHERE d.datname = current_database()) AS settings`,
      );
      expect(state).toEqual({ migrations: null, functions: 0, settings: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("is not bound by the functions' statement timeout it sets", async () => {
    const db = await emptyDatabase();
    await migrate({ databaseUrl: db.url, statementTimeoutMs: 200 });
    // A slow step (think: an index on a large table), run by the same role whose default is now 200 ms.
    const functionsDir = await mkdtemp(join(tmpdir(), "slow-functions-"));
    try {
      await cp(defaultSqlFunctionsDir(), functionsDir, { recursive: true });
      await writeFile(join(functionsDir, "999_slow.sql"), "SELECT pg_sleep(0.5);\n");
      await expect(
        migrate({ databaseUrl: db.url, functionsDir, statementTimeoutMs: 200 }),
      ).resolves.toMatchObject({
        applied: [],
      });
    } finally {
      await rm(functionsDir, { recursive: true, force: true });
    }
  });
});

describe("migrate waiting for a table lock", () => {
  // A pending migration that needs the payments table to itself (as 1734000000000 does).
  async function withLockingMigration<T>(lockSql: string, body: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), "locking-migrations-"));
    try {
      await cp(defaultMigrationsDir(), dir, { recursive: true });
      await writeFile(join(dir, "1999999999999_lock.sql"), `-- Up Migration\n${lockSql}\n`);
      return await body(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function session(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }

  async function until(condition: () => Promise<boolean>): Promise<void> {
    while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  it("gives way, so calls on the table are not held up behind it, and runs once the holder has ended", async () => {
    const db = await emptyDatabase();
    await migrate({ databaseUrl: db.url });
    await withLockingMigration("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE;", async (dir) => {
      const holder = await session(db.url);
      const caller = await session(db.url);
      try {
        // A long transaction that read payments: the migration cannot have the table before it ends.
        await holder.query("BEGIN");
        await holder.query("SELECT count(*) FROM payments");
        const log: string[] = [];
        const migrating = migrate({
          databaseUrl: db.url,
          dir,
          lockTimeoutMs: 100,
          lockAttempts: 100,
          log: (m) => log.push(m),
        });
        await until(async () => log.some((m) => m.includes("gave way")));
        // Without the lock timeout this read would queue behind the waiting migration until the holder ends
        // (its own bound only turns that hang into a failure).
        await caller.query("SET statement_timeout = 10000");
        await expect(caller.query("SELECT count(*)::int AS n FROM payments")).resolves.toMatchObject({
          rows: [{ n: 0 }],
        });
        await holder.query("COMMIT");
        await expect(migrating).resolves.toMatchObject({ applied: ["1999999999999_lock"] });
        expect(log.filter((m) => m.includes("gave way")).length).toBeGreaterThan(0);
      } finally {
        await holder.end();
        await caller.end();
      }
    });
  });

  it("fails after its attempts with a message that says so, and changes nothing", async () => {
    const db = await emptyDatabase();
    await migrate({ databaseUrl: db.url });
    await withLockingMigration("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE;", async (dir) => {
      const holder = await session(db.url);
      try {
        await holder.query("BEGIN");
        await holder.query("SELECT count(*) FROM payments");
        await expect(
          migrate({ databaseUrl: db.url, dir, lockTimeoutMs: 50, lockAttempts: 2 }),
        ).rejects.toThrow(
          /^migrate could not take its locks in 2 attempt\(s\) of at most 50 ms each \(canceling statement due to lock timeout\); nothing was changed/,
        );
        await holder.query("COMMIT");
        const recorded = await db.query<{ name: string }>(
          `SELECT name FROM ${MIGRATIONS_TABLE} WHERE name = '1999999999999_lock'`,
        );
        expect(recorded).toEqual([]);
      } finally {
        await holder.end();
      }
    });
  });

  it("is the side that gives way when it deadlocks with a call that takes the tables in the other order", async () => {
    const db = await emptyDatabase();
    await migrate({ databaseUrl: db.url });
    // As 1734000000000 does: payments first, then balances; a void takes balances, then payments.
    await withLockingMigration("LOCK TABLE payments, balances IN ACCESS EXCLUSIVE MODE;", async (dir) => {
      const call = await session(db.url);
      const observer = await session(db.url);
      try {
        const [{ deadlock_timeout: deadlockTimeout }] = (await observer.query("SHOW deadlock_timeout")).rows;
        expect(deadlockTimeout).toBe("1s");
        await call.query("BEGIN");
        await call.query("SELECT count(*) FROM balances");
        const migrating = migrate({ databaseUrl: db.url, dir, lockTimeoutMs: 200, lockAttempts: 100 });
        // The migration holds payments and waits for balances…
        await until(async () => {
          const { rows } = await observer.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks
              WHERE relation = 'payments'::regclass AND mode = 'AccessExclusiveLock' AND granted`,
          );
          return rows[0]?.n === 1;
        });
        // …and the call now wants payments: a deadlock, which the migration ends by giving way.
        await expect(call.query("SELECT count(*)::int AS n FROM payments")).resolves.toMatchObject({
          rows: [{ n: 0 }],
        });
        await call.query("COMMIT");
        await expect(migrating).resolves.toMatchObject({ applied: ["1999999999999_lock"] });
      } finally {
        await call.end();
        await observer.end();
      }
    });
  });
});

describe("the ledger's rules as domains (1734000000000), on a database with rows", () => {
  const DOMAINS_MIGRATION = "1734000000000_ledger_rules_as_domains";

  it("rewrites no table or index, keeps every row, refuses what was refused, and keeps the previous release's balance moves working", async () => {
    const db = await emptyDatabase();
    // The schema as the previous release left it: every migration before this one.
    const beforeDir = await mkdtemp(join(tmpdir(), "migrations-before-domains-"));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const state = async (sql: string, params: unknown[] = []) => {
      try {
        await client.query(sql, params);
        return undefined;
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    try {
      for (const name of await currentMigrationNames()) {
        if (name < DOMAINS_MIGRATION) {
          await copyFile(join(defaultMigrationsDir(), `${name}.sql`), join(beforeDir, `${name}.sql`));
        }
      }
      await migrate({ databaseUrl: db.url, dir: beforeDir });

      const [funding, alice, bob] = [newId(), newId(), newId()];
      for (const [id, system] of [
        [funding, true],
        [alice, false],
        [bob, false],
      ] as const) {
        await client.query(CREATE_ACCOUNT_SQL, [id, `owner-${id}`, "EUR", system, false]);
      }
      const pay = (payer: string, payee: string, amount: number, holdSeconds: number | null = null) =>
        client.query<{ status: string }>(
          `SELECT status FROM authorize_payment(
             p_payment_id => $1, p_event_id => $2, p_debit_entry_id => $3, p_credit_entry_id => $4,
             p_owner => 'o', p_idempotency_key => $5, p_request_hash => 'h', p_key_ttl => interval '1 day',
             p_payer => $6, p_payee => $7, p_amount => $8, p_currency => 'EUR', p_description => 'before',
             p_hold_for => $9::interval)`,
          [newId(), newId(), newId(), newId(), newId(), payer, payee, amount, holdSeconds],
        );
      expect((await pay(funding, alice, 1_000)).rows).toEqual([{ status: "AUTHORIZED" }]);
      expect((await pay(alice, bob, 300)).rows).toEqual([{ status: "AUTHORIZED" }]);
      expect((await pay(alice, bob, 200, 3_600)).rows).toEqual([{ status: "HELD" }]);

      const storage = () =>
        db.query<{ relname: string; relfilenode: string }>(
          `SELECT c.relname, c.relfilenode::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') ORDER BY c.relname`,
        );
      const rows = () =>
        db.query(
          `SELECT (SELECT json_agg(b ORDER BY b.account_id) FROM balances b) AS balances,
                  (SELECT json_agg(e ORDER BY e.id) FROM (SELECT id, account_id, amount, balance_after FROM ledger_entries) e) AS entries,
                  (SELECT json_agg(p ORDER BY p.id) FROM (SELECT id, amount, status, idempotency_key, description FROM payments) p) AS payments,
                  (SELECT json_agg(h ORDER BY h.payment_id) FROM holds h) AS holds`,
        );
      const storageBefore = await storage();
      const rowsBefore = await rows();

      expect((await migrate({ databaseUrl: db.url })).applied).toEqual([DOMAINS_MIGRATION]);

      // Nothing rewritten: every table and index kept its storage (an index
      // on a changed column is rebuilt as a new object over the same file).
      expect(await storage()).toEqual(storageBefore);
      expect(await rows()).toEqual(rowsBefore);

      // Refused as before, now by the domains.
      const payment = (amount: number | string, key = newId(), description = "") =>
        state(
          `INSERT INTO payments (id, idempotency_key, payer_account_id, payee_account_id, amount, currency, status, description)
           VALUES ($1, $2, $3, $4, $5, 'EUR', 'AUTHORIZED', $6)`,
          [newId(), key, alice, bob, amount, description],
        );
      expect(await payment(0)).toBe("23514");
      expect(await payment("9007199254740992")).toBe("23514");
      expect(await payment(1, "")).toBe("23514");
      expect(await payment(1, newId(), "x".repeat(501))).toBe("23514");
      expect(await payment(1)).toBeUndefined();
      expect(await state("UPDATE balances SET pending = -1 WHERE account_id = $1", [bob])).toBe("23514");
      expect(await state("UPDATE balances SET available = -1 WHERE account_id = $1", [bob])).toBe("23514");
      expect(await state("UPDATE balances SET pending = 10000 WHERE account_id = $1", [alice])).toBe("23514");
      expect(await state("UPDATE ledger_entries SET amount = 0 WHERE account_id = $1", [bob])).toBe("23514");
      expect(
        await state("INSERT INTO accounts (id, owner, currency) VALUES ($1, 'o', 'EUR')", ["not-a-ulid"]),
      ).toBe("23514");
      expect(
        await state("INSERT INTO accounts (id, owner, currency) VALUES ($1, 'o', 'eur')", [newId()]),
      ).toBe("23514");

      // A call of the previous release's ledger functions that waited for this
      // migration's locks finishes its old body, which moves money with
      // lock_move() and post_move(): they still work on the new schema.
      const paymentId = newId();
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO payments (id, idempotency_key, payer_account_id, payee_account_id, amount, currency, status)
         VALUES ($1, $2, $3, $4, 50, 'EUR', 'AUTHORIZED')`,
        [paymentId, newId(), alice, bob],
      );
      const { rows: moves } = await client.query<{ available: string; receives: boolean; hot: boolean }>(
        "SELECT (debit).available::text, credit_receives AS receives, credit_hot AS hot FROM lock_move($1, $2, 'EUR')",
        [alice, bob],
      );
      expect(moves).toEqual([{ available: "700", receives: true, hot: false }]);
      await client.query(
        "SELECT post_move($1, $2, $3, $4, $5, false, 50, 'EUR', now(), p_release => 0, p_refund_id => NULL)",
        [paymentId, newId(), newId(), alice, bob],
      );
      await client.query("COMMIT");
      const [after] = await db.query<{ alice: string; bob: string; sum: string }>(
        `SELECT (SELECT available::text FROM balances WHERE account_id = '${alice}') AS alice,
                (SELECT available::text FROM balances WHERE account_id = '${bob}') AS bob,
                (SELECT sum(amount)::text FROM ledger_entries) AS sum`,
      );
      expect(after).toEqual({ alice: "650", bob: "350", sum: "0" });
    } finally {
      await client.end();
      await rm(beforeDir, { recursive: true, force: true });
    }
  });
});
