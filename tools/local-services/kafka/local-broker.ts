import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { freePorts } from "../ports.ts";
import { BrokerJvm } from "./broker-jvm.ts";
import { APPLICATION_USER, type KafkaClientEnv, scramTlsClientEnv } from "./client-env.ts";
import { brokerLog4jProperties, serverProperties } from "./config.ts";
import { formatStorage } from "./format-storage.ts";
import { ensureKafkaJars } from "./jars.ts";
import { javaBin, libsClasspath, log4jOption, toolLog4jProperties } from "./java.ts";
import {
  kafkajsSasl,
  kafkajsTls,
  primaryMechanism,
  type ScramCredentials,
  type ScramMechanism,
  type ScramSetup,
  ScramUserAdmin,
} from "./scram.ts";
import { makeBrokerTls } from "./tls.ts";
import { type ListenerAccess, waitForKafka } from "./wait-ready.ts";

const HOST = "127.0.0.1";
const READY_TIMEOUT_MS = 90_000;
const BROKER_JVM_OPTS = [
  "-Xms64m",
  "-Xmx512m",
  // Few GC/JIT threads matter more than throughput on a 2-core box shared with the tests.
  "-XX:+UseSerialGC",
  "-XX:-UsePerfData",
  "-Djava.awt.headless=true",
];

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
  private running: BrokerJvm | undefined;
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
    await formatStorage({
      libsDir: this.libsDir,
      serverProps,
      toolLog4jProps,
      scram: this.scramSetup,
    });
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
    if (!this.running) throw new Error(`kafka: ${signal} needs a running broker`);
    this.running.signal(signal);
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

  private spawnBroker(): BrokerJvm {
    const jvm: BrokerJvm = new BrokerJvm({
      java: javaBin(),
      args: [
        ...BROKER_JVM_OPTS,
        log4jOption(this.paths.log4jProps),
        "-cp",
        this.classpath(),
        "kafka.Kafka",
        this.paths.serverProps,
      ],
      dir: this.paths.dir,
      outputFile: this.paths.jvmLog,
      onExit: (reason) => {
        // terminate() forgets the process before it signals it: still current means nobody asked.
        if (this.running === jvm) void this.logTail().then((tail) => this.reportDeath(`${reason}\n${tail}`));
      },
    });
    return jvm;
  }

  /** Stops the JVM (data dir and ports stay) and waits until it is really gone. */
  private async terminate(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    await running.terminate(signal);
  }

  /** Last resort when Node exits without stop(): only synchronous work is possible here. */
  private killSync(): void {
    this.running?.killSync();
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

function randomPassword(): string {
  return randomBytes(18).toString("base64url");
}
