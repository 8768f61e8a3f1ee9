import pg from "pg";
import { CachedSecret, type SecretSource, SecretsManagerSource, withSecret } from "../aws/secrets.ts";
import type { DatabaseConfig } from "../config.ts";
import { databaseUrlFromSecret, isCredentialsRejected } from "./credentials.ts";

// int8 comes back as a string by default; money is int8, so parse it as bigint
// and never through a float.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => BigInt(value));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

type ConnectCallback = (error: Error | undefined, client: PoolClient | undefined, done: () => void) => void;

/**
 * A pool whose connection settings come from a secret. Every new connection
 * uses the secret's current value (cached for its TTL); when Postgres rejects
 * the credentials (rotated password), the secret is fetched again and the
 * connection tried once more. Connections already open are unaffected: a
 * password change does not end existing sessions.
 */
class SecretPool extends pg.Pool {
  constructor(
    options: pg.PoolConfig,
    private readonly secret: CachedSecret<string>,
  ) {
    super(options);
  }

  override connect(): Promise<PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<PoolClient> | undefined {
    const connected = withSecret(
      this.secret,
      (url) => {
        // New clients are built from these options (pg-pool's documented `options`).
        if (this.options.connectionString !== url) this.options.connectionString = url;
        return super.connect();
      },
      isCredentialsRejected,
    );
    if (!callback) return connected;
    connected.then(
      (client) => callback(undefined, client, () => client.release()),
      (error: Error) => callback(error, undefined, () => {}),
    );
    return undefined;
  }
}

export interface CreatePoolOptions {
  /** Where the database secret is read from; default Secrets Manager (only used when the config names a secret). */
  secrets?: SecretSource;
  /**
   * false: this pool's commits do not wait for the WAL flush. Only for work
   * whose loss in a database crash is harmless by design (the outbox drain:
   * a lost "published" mark means the event is sent again, which
   * at-least-once allows; the WAL is replayed as a prefix, so a later mark
   * is never kept while an earlier one is lost).
   */
  synchronousCommit?: boolean;
}

export function createPool(config: DatabaseConfig, options: CreatePoolOptions = {}): pg.Pool {
  const settings: pg.PoolConfig = {
    ...(options.synchronousCommit === false ? { options: "-c synchronous_commit=off" } : {}),
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs,
    statement_timeout: config.statementTimeoutMs || undefined,
    // Lambda freezes idle containers; short idle time avoids reusing sockets
    // the server side has already closed.
    idleTimeoutMillis: 30_000,
  };
  const pool = config.secret
    ? new SecretPool(
        settings,
        new CachedSecret({
          source: options.secrets ?? new SecretsManagerSource(),
          secretId: config.secret.id,
          parse: databaseUrlFromSecret,
          ttlMs: config.secret.ttlMs,
        }),
      )
    : new pg.Pool({ ...settings, connectionString: config.url });
  // An idle client's socket error must not crash the process; the pool drops it.
  pool.on("error", () => {});
  return pool;
}

/**
 * The database URL for a one-off connection (migrations): DATABASE_URL, or the
 * secret's current value. `connect` runs with it; if Postgres rejects the
 * credentials, the secret is fetched once more and `connect` runs once more.
 */
export async function withDatabaseUrl<R>(
  config: DatabaseConfig,
  connect: (url: string) => Promise<R>,
  secrets: SecretSource = new SecretsManagerSource(),
): Promise<R> {
  if (!config.secret) return connect(config.url);
  const secret = new CachedSecret({
    source: secrets,
    secretId: config.secret.id,
    parse: databaseUrlFromSecret,
    ttlMs: config.secret.ttlMs,
  });
  return withSecret(secret, connect, isCredentialsRejected);
}
