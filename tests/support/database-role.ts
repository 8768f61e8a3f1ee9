/**
 * A login role of its own for a test that rotates its password: the harness keeps connecting as
 * the superuser, so ALTER ROLE never locks it out. The role gets what an application role has
 * on one database (read and write its tables, use its sequences, call its functions), nothing
 * more.
 */
import pg from "pg";

export interface DatabaseRole {
  readonly name: string;
  /** The database's URL, logging in as this role with `password`. */
  url(password: string): string;
  setPassword(password: string): Promise<void>;
  /**
   * Ends every session of this role and waits until they are gone (a password change ends
   * none, so without this the holders of a session never log in again). How many there were.
   */
  terminateSessions(): Promise<number>;
  /** Logs in with `password`: undefined when that works, else Postgres's SQLSTATE. */
  loginError(password: string): Promise<string | undefined>;
  drop(): Promise<void>;
}

/** `admin`: a superuser connected to the database `databaseUrl` names. */
export async function createDatabaseRole(
  admin: pg.Client,
  databaseUrl: string,
  name: string,
  password: string,
): Promise<DatabaseRole> {
  const role = admin.escapeIdentifier(name);
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
  await admin.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
  await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
  await admin.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
  await admin.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${role}`);

  const url = (secret: string) => {
    const value = new URL(databaseUrl);
    value.username = encodeURIComponent(name);
    value.password = encodeURIComponent(secret);
    return value.toString();
  };
  const terminateSessions = async () => {
    // Two statements: in one, Postgres may call pg_terminate_backend before it filters by role.
    const { rows } = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE usename = $1",
      [name],
    );
    const pids = rows.map((row) => row.pid);
    await admin.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [pids]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const left = await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)", [pids]);
      if (left.rowCount === 0) return pids.length;
      if (Date.now() > deadline) throw new Error(`sessions of ${name} still there 10 s after termination`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return {
    name,
    url,
    setPassword: async (secret) => {
      await admin.query(`ALTER ROLE ${role} PASSWORD ${admin.escapeLiteral(secret)}`);
    },
    terminateSessions,
    loginError: async (secret) => {
      const client = new pg.Client({ connectionString: url(secret) });
      try {
        await client.connect();
        return undefined;
      } catch (error) {
        return String((error as { code?: unknown }).code ?? error);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    drop: async () => {
      await terminateSessions();
      await admin.query(`DROP OWNED BY ${role}`);
      await admin.query(`DROP ROLE ${role}`);
    },
  };
}
