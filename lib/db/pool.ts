import pg from "pg";
import { CachedSecret, type SecretSource, SecretsManagerSource, withSecret } from "../aws/secrets.ts";
import type { DatabaseConfig, MigrationDatabaseConfig } from "../config.ts";
import { databaseUrlFromSecret, isCredentialsRejected } from "./credentials.ts";

// int8 comes back as a string by default; money is int8, so parse it as bigint
// and never through a float.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => BigInt(value));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

type ConnectCallback = (error: Error | undefined, client: PoolClient | undefined, done: () => void) => void;

/**
 * A pg pool that keeps two promises by construction, whoever checks a client out:
 *
 * - No session state: nothing is sent when a connection opens (no startup
 *   parameters, no SET). A transaction-mode pooler (PgBouncer, RDS Proxy)
 *   refuses startup parameters or pins the session, and hands each
 *   transaction whichever server connection is free; settings the functions
 *   need are defaults of their database role (lib/db/role-settings.ts) or
 *   transaction-local.
 * - A dead connection never crashes the process: every client it creates has
 *   an "error" listener for life. pg-pool listens only while a client is
 *   idle; a server that ends a checked-out session (a restart, a failover,
 *   pg_terminate_backend) would otherwise raise an uncaught exception. The
 *   call in flight still fails with the error (mapped to UNAVAILABLE,
 *   lib/db/errors.ts), and pg-pool discards the broken client when it is
 *   released, so the next call opens a fresh one.
 */
class LedgerPool extends pg.Pool {
  constructor(options: pg.PoolConfig) {
    super(options);
    this.on("connect", (client) => client.on("error", ignoreClientError));
    // Idle clients: pg-pool has already dropped the client when it re-emits the error here.
    this.on("error", ignoreClientError);
  }
}

/** The failing query (if any) reports the error to its caller; the event itself needs no action. */
function ignoreClientError(): void {}

/**
 * A pool whose connection settings come from a secret. Every new connection
 * uses the secret's current value (cached for its TTL); when Postgres rejects
 * the credentials (rotated password), the secret is fetched again and the
 * connection tried once more. Connections already open are unaffected: a
 * password change does not end existing sessions.
 */
class SecretPool extends LedgerPool {
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
}

export function createPool(config: DatabaseConfig, options: CreatePoolOptions = {}): pg.Pool {
  const settings: pg.PoolConfig = {
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs,
    // Lambda freezes idle containers; closing idle connections first keeps the
    // pooler from closing them under a frozen container (docs/deploying.md).
    idleTimeoutMillis: config.idleTimeoutMs,
  };
  return config.secret
    ? new SecretPool(
        settings,
        new CachedSecret({
          source: options.secrets ?? new SecretsManagerSource(),
          secretId: config.secret.id,
          parse: databaseUrlFromSecret,
          ttlMs: config.secret.ttlMs,
        }),
      )
    : new LedgerPool({ ...settings, connectionString: config.url });
}

/**
 * One connection outside any pool (migrate, scripts), connected, with an
 * "error" listener from the start for the same reason as the pool's clients.
 */
export async function connectClient(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  client.on("error", ignoreClientError);
  await client.connect();
  return client;
}

type ConnectionConfig = Pick<DatabaseConfig | MigrationDatabaseConfig, "url" | "secret">;

/**
 * The database URL for a one-off connection (migrations): the config's URL, or
 * the secret's current value. `connect` runs with it; if Postgres rejects the
 * credentials, the secret is fetched once more and `connect` runs once more.
 */
export async function withDatabaseUrl<R>(
  config: ConnectionConfig,
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

/** The role a config logs in as (the URL's user, or the secret's), read without connecting. */
export async function databaseUser(
  config: ConnectionConfig,
  secrets: SecretSource = new SecretsManagerSource(),
): Promise<string> {
  const url = config.secret
    ? databaseUrlFromSecret(await secrets.getSecretString(config.secret.id))
    : config.url;
  const user = decodeURIComponent(new URL(url).username);
  if (!user) throw new Error("the database URL names no user");
  return user;
}
