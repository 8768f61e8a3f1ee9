/**
 * Secrets read at run time: the loader caches for its TTL and refreshes after
 * it; when Postgres rejects rotated credentials, the pool fetches the secret
 * once more and connects once more, and never loops. Real Postgres (a role
 * whose password is changed with ALTER ROLE), and a real secret source:
 * LocalStack's Secrets Manager when LOCALSTACK_ENDPOINT is set, else the
 * in-process store (tests/support/secret-store.ts).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CachedSecret, SecretError, type SecretSource } from "../../lib/aws/secrets.ts";
import { databaseConfig } from "../../lib/config.ts";
import { databaseUrlFromSecret } from "../../lib/db/credentials.ts";
import { translateDbError } from "../../lib/db/errors.ts";
import { createPool, type Pool, withDatabaseUrl } from "../../lib/db/pool.ts";
import { UnavailableError } from "../../lib/errors.ts";
import { type TestSecretStore, testSecretStore } from "../support/secret-store.ts";

const run = `${process.pid}_${Date.now().toString(36)}`;
const role = `rotation_${run}`;
let admin: pg.Client;
let store: TestSecretStore;
let server: URL;
let passwordsEnforced = true;
const pools: Pool[] = [];

/** The secret as RDS's managed rotation writes it. */
function rdsSecret(password: string): string {
  return JSON.stringify({
    engine: "postgres",
    host: server.hostname,
    port: Number(server.port),
    username: role,
    password,
    dbname: "postgres",
    // The local server speaks no TLS; RDS's shape defaults to sslmode=require.
    sslmode: "disable",
  });
}

async function setPassword(password: string): Promise<void> {
  await admin.query(`ALTER ROLE "${role}" PASSWORD '${password}'`);
}

function secretPool(secretId: string, poolMax: number): Pool {
  const pool = createPool(
    { ...databaseConfig({}), poolMax, secret: { id: secretId, ttlMs: 3_600_000 } },
    { secrets: store },
  );
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  // Directly, not through the run's pooler: this test logs in as a role of its own whose password
  // it changes, and the pooler's user list is its own (PgBouncer's auth file; RDS Proxy's secrets).
  server = new URL(inject("pgAdminUrl"));
  admin = new pg.Client({ connectionString: inject("pgAdminUrl") });
  await admin.connect();
  await admin.query(`CREATE ROLE "${role}" LOGIN PASSWORD 'first-password'`);
  store = testSecretStore();
  console.log(`secrets from: ${store.kind}`);
  // A server that trusts every local login cannot reject a stale password: nothing to test then.
  const wrong = new pg.Client({ connectionString: databaseUrlFromSecret(rdsSecret("not-the-password")) });
  passwordsEnforced = await wrong.connect().then(
    async () => {
      await wrong.end();
      return false;
    },
    () => true,
  );
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
  if (admin) {
    await admin.query(`DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
    await admin.end();
  }
  await store?.close();
});

function requirePasswords(skip: (note?: string) => void): void {
  if (!passwordsEnforced) {
    const reason = `skipped: the Postgres at ${server.host} accepts any password (trust authentication)`;
    console.log(reason);
    skip(reason);
  }
}

describe("CachedSecret", () => {
  it("serves the cached value for the TTL, fetches again after it, and keeps the old value if that fetch fails", async () => {
    const id = `payment-ledger/test/${run}/ttl`;
    await store.put(id, "v1");
    let now = 1_000_000;
    let unreachable = false;
    const source: SecretSource = {
      getSecretString: (secretId) =>
        unreachable ? Promise.reject(new Error("connect ETIMEDOUT")) : store.getSecretString(secretId),
    };
    const secret = new CachedSecret({ source, secretId: id, parse: (s) => s, ttlMs: 60_000, now: () => now });

    expect(await secret.get()).toBe("v1");
    await store.put(id, "v2");
    now += 59_999;
    expect(await secret.get()).toBe("v1");
    expect(store.reads(id)).toBe(1);

    now += 1;
    expect(await secret.get()).toBe("v2");
    expect(store.reads(id)).toBe(2);

    // Secrets Manager unreachable after the TTL: the last value keeps serving.
    now += 60_000;
    unreachable = true;
    expect(await secret.get()).toBe("v2");
    // ... but a forced refresh reports the failure, naming the secret and nothing of its value.
    await expect(secret.refresh()).rejects.toThrow(SecretError);
    await expect(secret.refresh()).rejects.toThrow(id);
  });

  it("shares one fetch among concurrent callers, and reports a malformed secret without its content", async () => {
    const id = `payment-ledger/test/${run}/shared`;
    await store.put(id, rdsSecret("some-password"));
    const secret = new CachedSecret({ source: store, secretId: id, parse: databaseUrlFromSecret, ttlMs: 0 });
    const urls = await Promise.all([secret.refresh(), secret.refresh(), secret.refresh()]);
    expect(new Set(urls).size).toBe(1);
    expect(store.reads(id)).toBe(1);

    await store.put(
      id,
      JSON.stringify({ host: "db", username: "u", password: "hunter2-secret" }).slice(0, -1),
    );
    const error = await secret.refresh().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect(String((error as Error).message)).toContain("malformed");
    expect(String((error as Error).message)).not.toContain("hunter2");
  });
});

describe("a pool whose credentials come from a secret", () => {
  it("picks up a rotated password at once: one refetch, new connection; open sessions keep working", async ({
    skip,
  }) => {
    requirePasswords(skip);
    const id = `payment-ledger/test/${run}/rotate`;
    await setPassword("first-password");
    await store.put(id, rdsSecret("first-password"));
    const pool = secretPool(id, 2);

    const first = await pool.connect();
    try {
      expect((await first.query<{ user: string }>("SELECT current_user AS user")).rows[0]?.user).toBe(role);
      expect(store.reads(id)).toBe(1);

      // Rotation: the password changes in Postgres and in the secret; the pool's cache (1 h) still has the old one.
      await setPassword("second-password");
      await store.put(id, rdsSecret("second-password"));

      // The first connection is busy, so this one is new: rejected with the cached password, then fetched again.
      const second = await pool.connect();
      try {
        expect((await second.query<{ user: string }>("SELECT current_user AS user")).rows[0]?.user).toBe(
          role,
        );
        expect(store.reads(id)).toBe(2);
      } finally {
        second.release();
      }
      // A password change ends no session.
      expect((await first.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      first.release();
    }

    // Later connections use the fresh value from the cache: no more fetches.
    await Promise.all([pool.query("SELECT 1"), pool.query("SELECT 2")]);
    expect(store.reads(id)).toBe(2);
  });

  it("refetches once per call when the secret itself is wrong, and fails with the database's error: never a loop", async ({
    skip,
  }) => {
    requirePasswords(skip);
    const id = `payment-ledger/test/${run}/wrong`;
    await store.put(id, rdsSecret("stale-password"));
    await setPassword("third-password");
    const pool = secretPool(id, 1);

    const refused = await pool.query("SELECT 1").catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "28P01" });
    // The first fetch, and exactly one more after the rejection.
    expect(store.reads(id)).toBe(2);
    // Callers see the database as unavailable (a secret being fixed heals it), not a bug.
    expect(() => translateDbError(refused)).toThrow(UnavailableError);

    await expect(pool.query("SELECT 1")).rejects.toMatchObject({ code: "28P01" });
    expect(store.reads(id)).toBe(3);

    // The secret is fixed (a rotation finishing late): the next call connects, after its one refetch.
    await store.put(id, rdsSecret("third-password"));
    expect((await pool.query("SELECT 42 AS answer")).rows).toEqual([{ answer: 42 }]);
    expect(store.reads(id)).toBe(4);
  });

  it("reports a secret it cannot read as the database being unavailable, naming no value", async () => {
    const pool = secretPool(`payment-ledger/test/${run}/missing`, 1);
    const error = await pool.query("SELECT 1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect(() => translateDbError(error)).toThrow(UnavailableError);
  });

  it("gives one-off connections (migrations) the same single retry", async ({ skip }) => {
    requirePasswords(skip);
    const id = `payment-ledger/test/${run}/migrate`;
    await setPassword("fourth-password");
    await store.put(id, rdsSecret("pre-rotation-password"));
    // The rotation lands between the fetch and the connect: the first value read is already stale.
    const rotatingDuringFetch: SecretSource = {
      getSecretString: async (secretId) => {
        const value = await store.getSecretString(secretId);
        await store.put(secretId, rdsSecret("fourth-password"));
        return value;
      },
    };
    const config = { ...databaseConfig({}), secret: { id, ttlMs: 3_600_000 } };
    const attempts: string[] = [];
    const whoAmI = async (url: string) => {
      attempts.push(decodeURIComponent(new URL(url).password));
      const client = new pg.Client({ connectionString: url });
      try {
        await client.connect();
        return (await client.query<{ user: string }>("SELECT current_user AS user")).rows[0]?.user;
      } finally {
        await client.end().catch(() => undefined);
      }
    };

    expect(await withDatabaseUrl(config, whoAmI, rotatingDuringFetch)).toBe(role);
    expect(attempts).toEqual(["pre-rotation-password", "fourth-password"]);
    expect(store.reads(id)).toBe(2);
  });
});
