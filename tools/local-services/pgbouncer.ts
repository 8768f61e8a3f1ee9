/**
 * A transaction-mode pooler in front of the local Postgres, as RDS Proxy sits
 * in front of RDS in production: PgBouncer with `pool_mode = transaction`,
 * Debian's package defaults otherwise, and no `ignore_startup_parameters`, so
 * a connection that sends startup parameters is refused here as it is there.
 * Picked in this order:
 *
 *   1. the user's DATABASE_URL (Postgres came from it): nothing is started and
 *      the URL is used as given (an outside audit may point it at a PgBouncer
 *      of its own);
 *   2. Docker: Debian's pgbouncer package in a container (pgbouncer/Dockerfile,
 *      the image docker-compose.yml's pgbouncer service builds), in front of
 *      the Postgres container;
 *   3. Debian's pgbouncer binary (`apt-get install pgbouncer`; on PATH or in
 *      /usr/sbin), started here on a free port with an ini and an auth file
 *      written to a temp dir, in a process group of its own that a watchdog
 *      stops if this process dies.
 *
 * Every database of the server is reachable through it under the same name,
 * user and password (a `*` entry), so a fresh test database needs no setup.
 */
import { execFile, spawn } from "node:child_process";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { dockerStatus } from "./docker.ts";
import { pgbouncerIni, type User, userlist } from "./pgbouncer/config.ts";
import { freePort } from "./ports.ts";
import type { PostgresHandle } from "./postgres.ts";
import { signalGroup, spawnGroupWatchdog } from "./process-group.ts";

const execFileAsync = promisify(execFile);

const READY_TIMEOUT_MS = 30_000;
const SHUTDOWN_GRACE_MS = 5_000;
const RECENT_LOG_LINES = 20;
const CONTAINER_PORT = 6432;
// Debian installs it in /usr/sbin, which a non-root PATH often lacks.
const EXTRA_PATH = ["/usr/sbin", "/usr/local/sbin"];
const DOCKER_CONTEXT = fileURLToPath(new URL("./pgbouncer", import.meta.url));

export interface PoolerHandle {
  source: "env" | "docker" | "local";
  /** The same database as `directUrl` (a URL of the server behind it), through the pooler. */
  pooledUrl(directUrl: string): string;
  /** What answered: "PgBouncer 1.18.0", or "the user's DATABASE_URL". */
  version: string;
  stop(): Promise<void>;
  /** "local" only: resolves, with why and its last log lines, if it exits without stop(). */
  died?: Promise<string>;
  /** "local" only: the pgbouncer process. */
  pid?: number;
}

export interface ProvidePoolerOptions {
  log?: (line: string) => void;
}

/** PgBouncer in transaction mode in front of `postgres` (see the module comment for the order). */
export async function providePooler(
  postgres: PostgresHandle,
  options: ProvidePoolerOptions = {},
): Promise<PoolerHandle> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (postgres.source === "env") {
    log("pgbouncer: none started (DATABASE_URL is used as given)");
    return {
      source: "env",
      pooledUrl: (url) => url,
      version: "the user's DATABASE_URL",
      stop: async () => {},
    };
  }
  const server = new URL(postgres.adminUrl);
  const user: User = {
    name: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
  };
  if (postgres.source === "docker") {
    const docker = await dockerStatus();
    if (!docker.available) throw new Error(`pgbouncer: Postgres runs in Docker, which no longer answers`);
    return startContainer(postgres, user, log);
  }
  return startLocal(`${server.hostname}:${server.port}`, user, log);
}

function rewriteAddress(directUrl: string, host: string, port: number): string {
  const url = new URL(directUrl);
  url.hostname = host;
  url.port = String(port);
  return url.toString();
}

async function findBinary(): Promise<string | undefined> {
  const path = [...(process.env.PATH ?? "").split(delimiter), ...EXTRA_PATH].filter(Boolean);
  for (const dir of path) {
    const candidate = join(dir, "pgbouncer");
    try {
      await execFileAsync(candidate, ["--version"], { timeout: 5_000 });
      return candidate;
    } catch {
      // Not there, or not runnable.
    }
  }
  return undefined;
}

/** Why no local PgBouncer can run here, or undefined when one can. */
export async function localPoolerUnavailable(): Promise<string | undefined> {
  return (await findBinary())
    ? undefined
    : "no pgbouncer binary on PATH or in /usr/sbin (Debian/Ubuntu: apt-get install pgbouncer; macOS: brew install pgbouncer)";
}

async function startLocal(server: string, user: User, log: (line: string) => void): Promise<PoolerHandle> {
  const binary = await findBinary();
  if (!binary) throw new Error(`pgbouncer: ${await localPoolerUnavailable()}`);
  const version = (await execFileAsync(binary, ["--version"])).stdout.split("\n")[0]?.trim() ?? "PgBouncer";
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), "ledger-pgbouncer-"));
  const port = await freePort();
  const ini = join(dir, "pgbouncer.ini");
  const authFile = join(dir, "userlist.txt");
  await writeFile(ini, pgbouncerIni({ server, listenAddr: "127.0.0.1", listenPort: port, authFile }));
  await writeFile(authFile, userlist(user), { mode: 0o600 });
  // PgBouncer refuses to run as root: as root, it switches to the postgres user
  // (Debian's package runs it as that user too), which must read its files.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { uid, gid } = await systemUser("postgres");
    for (const path of [dir, ini, authFile]) await chown(path, uid, gid);
  }

  const recent: string[] = [];
  const child = spawn(binary, [...(asRoot ? ["-u", "postgres"] : []), ini], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const watchdog =
    child.pid === undefined ? undefined : spawnGroupWatchdog(child.pid, "pgbouncer-watchdog", "TERM", 5);
  const remember = (chunk: Buffer) => {
    recent.push(...chunk.toString("utf8").trimEnd().split("\n"));
    recent.splice(0, Math.max(0, recent.length - RECENT_LOG_LINES));
  };
  child.stdout?.on("data", remember);
  child.stderr?.on("data", remember);
  child.unref();
  let stopRequested = false;
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      exitReason = `could not run ${binary}: ${error.message}`;
      resolve();
    });
    child.once("exit", (code, signal) => {
      exitReason = `pgbouncer exited with ${signal ?? `code ${code}`}`;
      resolve();
    });
  });
  const died = exited.then(
    () =>
      new Promise<string>((resolve) => {
        if (!stopRequested) resolve(`${exitReason}\n${recent.join("\n")}`);
      }),
  );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopRequested = true;
    stopping ??= (async () => {
      watchdog?.kill("SIGKILL");
      watchdog?.stdin?.destroy();
      if (exitReason === undefined) {
        signalGroup(child.pid, "SIGTERM");
        const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), SHUTDOWN_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const probeUrl = `postgres://${encodeURIComponent(user.name)}:${encodeURIComponent(user.password)}@127.0.0.1:${port}/postgres`;
  try {
    await waitUntilServing(probeUrl, () => exitReason && `${exitReason}\n${recent.join("\n")}`);
  } catch (error) {
    await stop();
    throw error;
  }
  log(
    `pgbouncer: ${version}, transaction pooling, on 127.0.0.1:${port} in front of ${server} (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  return {
    source: "local",
    pooledUrl: (url) => rewriteAddress(url, "127.0.0.1", port),
    version,
    stop,
    died,
    ...(child.pid !== undefined && { pid: child.pid }),
  };
}

async function startContainer(
  postgres: PostgresHandle,
  user: User,
  log: (line: string) => void,
): Promise<PoolerHandle> {
  if (!postgres.containerAddress) throw new Error("pgbouncer: the Postgres container's address is unknown");
  const { GenericContainer, Wait } = await import("testcontainers");
  const started = Date.now();
  const image = await GenericContainer.fromDockerfile(DOCKER_CONTEXT).build("payment-ledger-pgbouncer", {
    deleteOnExit: false,
  });
  const container = await image
    .withCopyContentToContainer([
      {
        content: pgbouncerIni({
          server: postgres.containerAddress,
          listenAddr: "0.0.0.0",
          listenPort: CONTAINER_PORT,
          authFile: "/etc/pgbouncer/userlist.txt",
        }),
        target: "/etc/pgbouncer/pgbouncer.ini",
        mode: 0o644,
      },
      { content: userlist(user), target: "/etc/pgbouncer/userlist.txt", mode: 0o644 },
    ])
    .withExposedPorts(CONTAINER_PORT)
    .withWaitStrategy(Wait.forLogMessage(/process up/))
    .start();
  const host = container.getHost();
  const port = container.getMappedPort(CONTAINER_PORT);
  log(`pgbouncer: container on ${host}:${port} (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return {
    source: "docker",
    pooledUrl: (url) => rewriteAddress(url, host, port),
    version: "PgBouncer (Debian bookworm's package, in Docker)",
    stop: async () => void (await container.stop()),
  };
}

async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  try {
    const [uid, gid] = await Promise.all(
      ["-u", "-g"].map(async (flag) => Number((await execFileAsync("id", [flag, name])).stdout.trim())),
    );
    return { uid: uid as number, gid: gid as number };
  } catch {
    throw new Error(
      `pgbouncer: running as root, it needs the system user "${name}" to run as (Debian's pgbouncer package creates it)`,
    );
  }
}

/** Until a query answers through it (so the server behind it answers too). */
async function waitUntilServing(url: string, deadReason: () => string | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: unknown;
  for (;;) {
    const dead = deadReason();
    if (dead) throw new Error(`pgbouncer: ${dead}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch (error) {
      last = error;
    } finally {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline) {
      throw new Error(`pgbouncer: not serving after ${READY_TIMEOUT_MS / 1000} s: ${String(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
