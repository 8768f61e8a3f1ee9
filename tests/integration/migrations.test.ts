import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runner } from "node-pg-migrate";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createEventTotalsTable } from "../../lib/consumer/event-totals.ts";
import {
  defaultMigrationsDir,
  defaultSqlFunctionsDir,
  MIGRATIONS_TABLE,
  migrate,
} from "../../lib/db/migrate.ts";
import { withDatabase } from "../../tools/local-services/postgres.ts";

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
const created: string[] = [];
let oldDir: string;
// The previous release's SQL functions: only what its schema can hold (today's
// files reference tables that release did not have).
let oldFunctionsDir: string;

async function emptyDatabase(): Promise<{
  url: string;
  query: <R extends pg.QueryResultRow>(sql: string) => Promise<R[]>;
}> {
  const name = `mig_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(`CREATE DATABASE "${name}"`);
  created.push(name);
  const url = withDatabase(adminUrl, name);
  return {
    url,
    query: async <R extends pg.QueryResultRow>(sql: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<R>(sql)).rows;
      } finally {
        await client.end();
      }
    },
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
  for (const name of created) await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
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
