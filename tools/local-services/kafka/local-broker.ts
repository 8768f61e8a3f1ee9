import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { freePorts } from "../ports.ts";
import { APPLICATION_USER, type KafkaClientEnv, scramTlsClientEnv } from "./client-env.ts";
import { brokerLog4jProperties, serverProperties } from "./config.ts";
import { ensureKafkaJars } from "./jars.ts";
import {
  javaBin,
  libsClasspath,
  log4jOption,
  TOOL_JVM_OPTS,
  toolLog4jProperties,
  toolOutput,
} from "./java.ts";
import {
  kafkajsSasl,
  kafkajsTls,
  primaryMechanism,
  type ScramCredentials,
  type ScramMechanism,
  type ScramSetup,
  ScramUserAdmin,
  scramFormatArgs,
  scramSecrets,
} from "./scram.ts";
import { makeBrokerTls } from "./tls.ts";
import { type ListenerAccess, waitForKafka } from "./wait-ready.ts";

const execFileAsync = promisify(execFile);

const HOST = "127.0.0.1";
const READY_TIMEOUT_MS = 90_000;
const FORMAT_TIMEOUT_MS = 60_000;
// A clean KRaft shutdown takes a few seconds; past this the broker is hung and gets SIGKILL.
const SHUTDOWN_GRACE_MS = 20_000;
const BROKER_JVM_OPTS = [
  "-Xms64m",
  "-Xmx512m",
  // Few GC/JIT threads matter more than throughput on a 2-core box shared with the tests.
  "-XX:+UseSerialGC",
  "-XX:-UsePerfData",
  "-Djava.awt.headless=true",
];

// Holds the read end of a pipe whose write end only this Node process owns. When Node dies
// for any reason (even SIGKILL, which skips 'exit' handlers) the read returns EOF and the
// broker is killed, so no orphaned JVM keeps ports and CPU.
const WATCHDOG_SCRIPT = `
while read -r _; do :; done
kill -KILL "$1" 2>/dev/null
i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
rm -rf "$2"
`;

export interface LocalBroker {
  brokers: string[];
  /** What the application's clients set to reach it (lib/config.ts names): TLS, its CA, its SCRAM login. */
  env: KafkaClientEnv;
  version: string;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** A stalled broker: SIGSTOP the JVM (connections stay open, nothing answers). */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  stop(): Promise<void>;
  /** Resolves, with why and the broker's last log lines, if the JVM exits when nobody stopped or paused it. */
  died: Promise<string>;
  /** Its users, changed with the broker's own tool as an admin (a superuser) would. */
  scram: ScramUserAdmin;
  /** How a client reaches the listener as the admin (kafkajs options). */
  adminAccess: ListenerAccess;
  /** `env`, logged in as the admin (a super user). */
  adminEnv: KafkaClientEnv;
}

/**
 * Both SCRAM mechanisms, on one listener and for every user, as Redpanda Cloud and Confluent
 * take them (MSK takes SCRAM-SHA-512 only): clients here log in with SHA-512, prod's mechanism;
 * the dev stage's rehearsal in LocalStack logs in with SHA-256, dev's (infra/stages.ts).
 */
export const DEFAULT_MECHANISMS: readonly ScramMechanism[] = ["SCRAM-SHA-512", "SCRAM-SHA-256"];

export interface LocalBrokerOptions {
  /** SCRAM mechanisms the listener takes, the first being the one its clients use; default DEFAULT_MECHANISMS. */
  mechanisms?: readonly ScramMechanism[];
  /** Enforce ACLs: the application's login may then do only what it is granted (default: anything). */
  authorize?: boolean;
}

interface Paths {
  dir: string;
  dataDir: string;
  tlsDir: string;
  serverProps: string;
  log4jProps: string;
  toolLog4jProps: string;
  serverLog: string;
  jvmLog: string;
}

interface RunningProcess {
  child: ChildProcess;
  /** Absent when the JVM could not even be spawned (no pid to guard). */
  watchdog?: ChildProcess;
  exited: Promise<void>;
  exitReason?: string;
}

export async function startLocalBroker(
  log: (line: string) => void,
  options: LocalBrokerOptions = {},
): Promise<LocalBroker> {
  const { libsDir, version } = await ensureKafkaJars(log);
  const paths = await createPaths();
  const scram: ScramSetup = {
    mechanisms: options.mechanisms ?? DEFAULT_MECHANISMS,
    // Only ever on 127.0.0.1, for this broker's lifetime.
    admin: { username: "broker-admin", password: randomPassword() },
    users: [{ username: APPLICATION_USER, password: randomPassword() }],
  };
  const broker = new LocalKafkaProcess(libsDir, version, paths, scram, options.authorize ?? false);
  try {
    await broker.init();
    await broker.resume();
    return broker;
  } catch (error) {
    await broker.stop();
    throw error;
  }
}

async function createPaths(): Promise<Paths> {
  const dir = await mkdtemp(join(tmpdir(), "kafka-test-"));
  const paths: Paths = {
    dir,
    dataDir: join(dir, "data"),
    tlsDir: join(dir, "tls"),
    serverProps: join(dir, "server.properties"),
    log4jProps: join(dir, "log4j.properties"),
    toolLog4jProps: join(dir, "tools-log4j.properties"),
    serverLog: join(dir, "logs", "server.log"),
    jvmLog: join(dir, "logs", "jvm.log"),
  };
  await mkdir(join(dir, "logs"));
  return paths;
}

class LocalKafkaProcess implements LocalBroker {
  brokers: string[] = [];
  env: KafkaClientEnv = {};
  adminEnv: KafkaClientEnv = {};
  adminAccess: ListenerAccess = {};
  private scramAdmin: ScramUserAdmin | undefined;
  private running: RunningProcess | undefined;
  private stopping: Promise<void> | undefined;
  private readonly onProcessExit = () => this.killSync();
  private reportDeath: (reason: string) => void = () => {};
  readonly died = new Promise<string>((resolve) => {
    this.reportDeath = resolve;
  });

  constructor(
    private readonly libsDir: string,
    readonly version: string,
    private readonly paths: Paths,
    private readonly scramSetup: ScramSetup,
    private readonly authorize: boolean,
  ) {
    process.once("exit", this.onProcessExit);
  }

  get scram(): ScramUserAdmin {
    if (!this.scramAdmin) throw new Error("kafka: the broker is not initialised");
    return this.scramAdmin;
  }

  /** Picks ports, makes certificates, writes config and formats storage: everything that must happen exactly once. */
  async init(): Promise<void> {
    const [port, controllerPort] = await freePorts(2, HOST);
    if (port === undefined || controllerPort === undefined) throw new Error("kafka: no free ports");
    this.brokers = [`${HOST}:${port}`];
    const { serverProps, log4jProps, toolLog4jProps, dataDir, serverLog, tlsDir } = this.paths;
    const scram = this.scramSetup;
    const tls = await makeBrokerTls(tlsDir);
    await writeFile(
      serverProps,
      serverProperties({ port, controllerPort, dataDir, host: HOST, scram, tls, authorize: this.authorize }),
      {
        mode: 0o600,
      },
    );
    await writeFile(log4jProps, brokerLog4jProperties(serverLog));
    await writeFile(toolLog4jProps, toolLog4jProperties());
    await this.formatStorage();
    const application = scram.users?.[0] as ScramCredentials;
    const client = {
      brokers: this.brokers,
      caFile: tls.caFile,
      mechanism: primaryMechanism(scram),
      brokerCount: 1,
    };
    this.env = scramTlsClientEnv({ ...client, credentials: application });
    this.adminEnv = scramTlsClientEnv({ ...client, credentials: scram.admin });
    this.adminAccess = {
      ssl: kafkajsTls({ caFile: tls.caFile }),
      sasl: kafkajsSasl(primaryMechanism(scram), scram.admin),
    };
    this.scramAdmin = new ScramUserAdmin({
      brokers: this.brokers,
      setup: scram,
      libsDir: this.libsDir,
      workDir: this.paths.dir,
      tls: { caFile: tls.caFile },
    });
  }

  async pause(): Promise<void> {
    this.assertUsable();
    if (!this.running) throw new Error("kafka: pause() called but the broker is already paused");
    await this.terminate();
  }

  async resume(): Promise<void> {
    this.assertUsable();
    if (this.running) throw new Error("kafka: resume() called but the broker is already running");
    const running = this.spawnBroker();
    this.running = running;
    await waitForKafka(this.brokers, {
      access: this.adminAccess,
      timeoutMs: READY_TIMEOUT_MS,
      deadReason: () => running.exitReason,
      diagnostics: () => this.logTail(),
    });
  }

  freeze(): void {
    this.signalRunning("SIGSTOP");
  }

  thaw(): void {
    this.signalRunning("SIGCONT");
  }

  private signalRunning(signal: NodeJS.Signals): void {
    this.assertUsable();
    if (!this.running || this.running.exitReason !== undefined)
      throw new Error(`kafka: ${signal} needs a running broker`);
    this.running.child.kill(signal);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    process.removeListener("exit", this.onProcessExit);
    // The data is thrown away right after, so a graceful shutdown would only cost time.
    await this.terminate("SIGKILL");
    await rm(this.paths.dir, { recursive: true, force: true });
  }

  private assertUsable(): void {
    if (this.stopping) throw new Error("kafka: broker was stopped");
  }

  private async formatStorage(): Promise<void> {
    const args = [
      ...TOOL_JVM_OPTS,
      log4jOption(this.paths.toolLog4jProps),
      "-cp",
      this.classpath(),
      "kafka.tools.StorageTool",
      "format",
      "--cluster-id",
      randomClusterId(),
      "--config",
      this.paths.serverProps,
      ...scramFormatArgs(this.scramSetup),
    ];
    try {
      await execFileAsync(javaBin(), args, { timeout: FORMAT_TIMEOUT_MS });
    } catch (error) {
      const hint = "is a JDK 17+ on PATH or JAVA_HOME set?";
      // The command line carries the passwords: quote only what the tool printed, masked.
      throw new Error(
        `kafka: formatting storage failed (${hint})\n${toolOutput(error, scramSecrets(this.scramSetup))}`,
      );
    }
  }

  private spawnBroker(): RunningProcess {
    // JVM-level failures (bad flags, OOM, crashes) bypass log4j; keep them next to server.log.
    const out = openSync(this.paths.jvmLog, "a");
    let child: ChildProcess;
    try {
      child = spawn(
        javaBin(),
        [
          ...BROKER_JVM_OPTS,
          log4jOption(this.paths.log4jProps),
          "-cp",
          this.classpath(),
          "kafka.Kafka",
          this.paths.serverProps,
        ],
        { cwd: this.paths.dir, stdio: ["ignore", out, out], detached: false },
      );
    } finally {
      closeSync(out);
    }
    // A forgotten stop() must not keep the test runner alive; exit hooks and the watchdog clean up.
    child.unref();
    const running: RunningProcess = {
      child,
      watchdog: child.pid === undefined ? undefined : this.spawnWatchdog(child.pid),
      exited: Promise.resolve(),
    };
    running.exited = new Promise((resolveExit) => {
      child.once("error", (error) => {
        running.exitReason = `could not run ${javaBin()}: ${error.message}`;
        resolveExit();
      });
      child.once("exit", (code, signal) => {
        running.exitReason = `java exited with ${signal ?? `code ${code}`}`;
        stopWatchdog(running.watchdog);
        resolveExit();
        // terminate() forgets the process before it signals it: still current means nobody asked.
        if (this.running === running) {
          void this.logTail().then((tail) => this.reportDeath(`${running.exitReason}\n${tail}`));
        }
      });
    });
    return running;
  }

  private spawnWatchdog(brokerPid: number): ChildProcess {
    const args = ["-c", WATCHDOG_SCRIPT, "kafka-watchdog", String(brokerPid), this.paths.dir];
    const watchdog = spawn("sh", args, { stdio: ["pipe", "ignore", "ignore"], detached: false });
    watchdog.on("error", () => undefined);
    watchdog.unref();
    (watchdog.stdin as Socket | null)?.unref();
    return watchdog;
  }

  /** Stops the JVM (data dir and ports stay) and waits until it is really gone. */
  private async terminate(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    stopWatchdog(running.watchdog);
    if (running.exitReason === undefined) {
      running.child.kill(signal);
      const timer = setTimeout(() => running.child.kill("SIGKILL"), SHUTDOWN_GRACE_MS);
      await running.exited;
      clearTimeout(timer);
    }
  }

  /** Last resort when Node exits without stop(): only synchronous work is possible here. */
  private killSync(): void {
    const pid = this.running?.exitReason === undefined ? this.running?.child.pid : undefined;
    if (pid !== undefined) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    rmSync(this.paths.dir, { recursive: true, force: true });
  }

  private classpath(): string {
    return libsClasspath(this.libsDir);
  }

  private async logTail(): Promise<string> {
    const tails = await Promise.all([this.paths.serverLog, this.paths.jvmLog].map((file) => tailOf(file)));
    return tails.filter(Boolean).join("\n") || "(the broker wrote no log)";
  }
}

async function tailOf(file: string, lines = 40): Promise<string> {
  const text = (await readFile(file, "utf8").catch(() => "")).trimEnd();
  if (!text) return "";
  // Only the file name: the temp dir is deleted by the time anyone reads the error.
  return `--- last ${lines} lines of ${basename(file)} ---\n${text.split("\n").slice(-lines).join("\n")}`;
}

function stopWatchdog(watchdog: ChildProcess | undefined): void {
  // Stopped together with the JVM, so it can never act on a recycled pid.
  watchdog?.kill("SIGKILL");
  watchdog?.stdin?.destroy();
}

function randomPassword(): string {
  return randomBytes(18).toString("base64url");
}

/** Kafka's Uuid text form: 16 random bytes, base64url. Kafka itself rejects ids starting with '-'. */
function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}
