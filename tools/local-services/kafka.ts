/**
 * A real Kafka-protocol broker for integration tests and local dev, picked in this order:
 *   1. KAFKA_BROKERS (comma-separated host:port): used as is, nothing is started; clients
 *      reach it with the other client settings of this shell (KAFKA_SSL, KAFKA_SSL_CA_FILE,
 *      KAFKA_SASL_*: see kafka/client-env.ts);
 *   2. a Redpanda container, when a Docker daemon answers;
 *   3. a local Apache Kafka (KRaft, single node) JVM from Maven Central jars (needs JDK 17 + Maven).
 * 2 and 3 run as managed Kafka does: one SASL_SSL listener (a CA and a broker certificate
 * made at start with openssl, SCRAM-SHA-512 logins; 3 also takes SCRAM-SHA-256 logins, the dev
 * stage's mechanism) and no topic is ever created by itself.
 * The handle's `env` is how to reach it.
 *
 * A broker whose users a test may change (provideScramKafka), picked in this order:
 *   1. KAFKA_SCRAM_BROKERS, with KAFKA_SCRAM_ADMIN_USERNAME / KAFKA_SCRAM_ADMIN_PASSWORD (a user
 *      that may alter SCRAM credentials), KAFKA_SCRAM_MECHANISM (default scram-sha-512) and,
 *      for a SASL_SSL listener, KAFKA_SCRAM_SSL_CA_FILE (its CA; "system" for the system's);
 *   2. none, when KAFKA_BROKERS is set: the caller skips, saying why;
 *   3. a local Apache Kafka JVM as in 3. above, with Docker or without (the same jars).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerStatus } from "./docker.ts";
import { clientEnvFrom, type KafkaClientEnv } from "./kafka/client-env.ts";
import type { StartedRedpanda } from "./kafka/docker.ts";
import { ensureKafkaJars } from "./kafka/jars.ts";
import { javaMissing } from "./kafka/java.ts";
import { type LocalBroker, startLocalBroker } from "./kafka/local-broker.ts";
import { type ScramMechanism, type ScramSetup, ScramUserAdmin } from "./kafka/scram.ts";
import { waitForKafka } from "./kafka/wait-ready.ts";

export { type KafkaClientEnv, prefixed } from "./kafka/client-env.ts";
export { kafkajsSasl, type ScramMechanism, type ScramUserAdmin } from "./kafka/scram.ts";

export interface KafkaHandle {
  brokers: string[];
  /** What a client sets to reach it, as lib/config.ts names them (KAFKA_BROKERS, KAFKA_SSL, …). */
  env: KafkaClientEnv;
  source: "env" | "docker" | "local";
  /** Stops what was started (nothing for "env") and removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
  /** Outage simulation, "local" only: stops the broker process, keeping its data dir and port. */
  pause(): Promise<void>;
  /** "local" only: restarts the broker on the same port with the same data and waits until ready. */
  resume(): Promise<void>;
  /** "local" only: resolves with why if the broker process exits on its own. */
  died?: Promise<string>;
}

export interface ProvideKafkaOptions {
  log?: (line: string) => void;
}

// Redpanda's container start already waits for its "started" log line; this is only a safety net.
const DOCKER_READY_TIMEOUT_MS = 30_000;

export async function provideKafka(opts: ProvideKafkaOptions = {}): Promise<KafkaHandle> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const startedAt = performance.now();
  const elapsed = () => `${((performance.now() - startedAt) / 1000).toFixed(1)} s`;

  const fromEnv = brokersFromEnv();
  if (fromEnv) {
    const env = clientEnvFrom(process.env);
    const access = env.KAFKA_SSL === "true" ? " over TLS" : "";
    const login = env.KAFKA_SASL_MECHANISM ? ` with ${env.KAFKA_SASL_MECHANISM} logins` : "";
    log(`kafka: using KAFKA_BROKERS=${fromEnv.join(",")}${access}${login}`);
    return envHandle(fromEnv, env);
  }

  const docker = await dockerStatus();
  if (docker.available) {
    // Loaded lazily: testcontainers is slow to import and not needed without Docker.
    const { startRedpanda } = await import("./kafka/docker.ts");
    const container = await startRedpanda();
    const handle = await dockerHandle(container);
    log(
      `kafka: docker ${container.description} on ${handle.brokers.join(",")}, SASL_SSL (started in ${elapsed()})`,
    );
    return handle;
  }
  log(`kafka: Docker not used (${docker.reason}); starting a local Apache Kafka JVM`);

  const broker = await startLocalBroker(log);
  log(
    `kafka: local Apache Kafka ${broker.version} on ${broker.brokers.join(",")}, SASL_SSL with SCRAM-SHA-512 and SCRAM-SHA-256 logins (started in ${elapsed()})`,
  );
  return localHandle(broker);
}

function brokersFromEnv(): string[] | undefined {
  return listFromEnv("KAFKA_BROKERS");
}

function listFromEnv(name: string): string[] | undefined {
  const brokers = (process.env[name] ?? "")
    .split(",")
    .map((broker) => broker.trim())
    .filter(Boolean);
  return brokers.length > 0 ? brokers : undefined;
}

function unsupported(source: KafkaHandle["source"], method: string): () => Promise<void> {
  return async () => {
    throw new Error(
      `kafka: ${method}() needs a broker process owned by the test (source "local"), but source is "${source}". ` +
        "Unset KAFKA_BROKERS and run without Docker to use outage tests.",
    );
  };
}

function envHandle(brokers: string[], env: KafkaClientEnv): KafkaHandle {
  return {
    brokers,
    env,
    source: "env",
    stop: async () => undefined,
    pause: unsupported("env", "pause"),
    resume: unsupported("env", "resume"),
  };
}

/** Wraps a started container; stops it again if it never becomes reachable. */
async function dockerHandle(container: StartedRedpanda): Promise<KafkaHandle> {
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= container.stop();
    return stopping;
  };
  try {
    await waitForKafka(container.brokers, { access: container.access, timeoutMs: DOCKER_READY_TIMEOUT_MS });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    brokers: container.brokers,
    env: container.env,
    source: "docker",
    stop,
    pause: unsupported("docker", "pause"),
    resume: unsupported("docker", "resume"),
  };
}

function localHandle(broker: LocalBroker): KafkaHandle {
  return {
    brokers: broker.brokers,
    env: broker.env,
    source: "local",
    stop: () => broker.stop(),
    pause: () => broker.pause(),
    resume: () => broker.resume(),
    died: broker.died,
  };
}

export interface ScramKafkaHandle {
  brokers: string[];
  /** How to reach it: KAFKA_BROKERS, KAFKA_SSL and KAFKA_SSL_CA_FILE (no login: a test picks its user). */
  env: KafkaClientEnv;
  source: "env" | "local";
  /** Its users: create one, change its password, delete it (Kafka's own kafka-configs). */
  users: ScramUserAdmin;
  stop(): Promise<void>;
  /** "local" only: stops the broker process; every connection to it drops. */
  pause(): Promise<void>;
  /** "local" only: restarts it on the same port with the same data and users. */
  resume(): Promise<void>;
}

export type ProvidedScramKafka = { handle: ScramKafkaHandle } | { skipped: string };

export interface ProvideScramKafkaOptions extends ProvideKafkaOptions {
  /** For the local broker; default SCRAM-SHA-512 only. */
  mechanisms?: readonly ScramMechanism[];
}

/** A broker with a listener taking SCRAM logins whose users a test may change, or why there is none here. */
export async function provideScramKafka(opts: ProvideScramKafkaOptions = {}): Promise<ProvidedScramKafka> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const fromEnv = scramBrokerFromEnv();
  if (fromEnv) {
    log(
      `kafka: using KAFKA_SCRAM_BROKERS=${fromEnv.brokers.join(",")} (${fromEnv.setup.mechanisms.join(",")})`,
    );
    return { handle: await envScramHandle(fromEnv.brokers, fromEnv.setup, fromEnv.caFile, log) };
  }
  const plain = brokersFromEnv();
  if (plain) {
    return {
      skipped:
        `KAFKA_BROKERS=${plain.join(",")} names a broker this run must use, and no SASL/SCRAM broker is given ` +
        "(KAFKA_SCRAM_BROKERS with KAFKA_SCRAM_ADMIN_USERNAME/PASSWORD); unset KAFKA_BROKERS to start a local one",
    };
  }
  // Without Docker the run's own broker needs a JVM too and fails without one; with Docker it does not.
  const noJava = await javaMissing();
  if (noJava) return { skipped: `a local SASL/SCRAM Kafka broker needs a JDK 17+: ${noJava}` };
  const startedAt = performance.now();
  const broker = await startLocalBroker(log, { mechanisms: opts.mechanisms ?? ["SCRAM-SHA-512"] });
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  log(
    `kafka: local Apache Kafka ${broker.version} with SASL_SSL/SCRAM on ${broker.brokers.join(",")} (started in ${seconds} s)`,
  );
  return {
    handle: {
      brokers: broker.brokers,
      env: listenerOnly(broker.env),
      source: "local",
      users: broker.scram,
      stop: () => broker.stop(),
      pause: () => broker.pause(),
      resume: () => broker.resume(),
    },
  };
}

/** A client env without its login. */
function listenerOnly(env: KafkaClientEnv): KafkaClientEnv {
  const { KAFKA_BROKERS = "", KAFKA_SSL, KAFKA_SSL_CA_FILE } = env;
  return {
    KAFKA_BROKERS,
    ...(KAFKA_SSL && { KAFKA_SSL }),
    ...(KAFKA_SSL_CA_FILE && { KAFKA_SSL_CA_FILE }),
  };
}

function scramBrokerFromEnv(): { brokers: string[]; setup: ScramSetup; caFile?: string } | undefined {
  const brokers = listFromEnv("KAFKA_SCRAM_BROKERS");
  if (!brokers) return undefined;
  const username = process.env.KAFKA_SCRAM_ADMIN_USERNAME ?? "";
  const password = process.env.KAFKA_SCRAM_ADMIN_PASSWORD ?? "";
  if (!username || !password) {
    throw new Error(
      "kafka: KAFKA_SCRAM_BROKERS needs KAFKA_SCRAM_ADMIN_USERNAME and KAFKA_SCRAM_ADMIN_PASSWORD",
    );
  }
  const mechanism = (process.env.KAFKA_SCRAM_MECHANISM ?? "scram-sha-512").toUpperCase();
  if (mechanism !== "SCRAM-SHA-256" && mechanism !== "SCRAM-SHA-512") {
    throw new Error("kafka: KAFKA_SCRAM_MECHANISM must be scram-sha-256 or scram-sha-512");
  }
  const caFile = process.env.KAFKA_SCRAM_SSL_CA_FILE?.trim() || undefined;
  return {
    brokers,
    setup: { mechanisms: [mechanism], admin: { username, password } },
    ...(caFile && { caFile }),
  };
}

async function envScramHandle(
  brokers: string[],
  setup: ScramSetup,
  caFile: string | undefined,
  log: (line: string) => void,
): Promise<ScramKafkaHandle> {
  // kafka-configs comes from the same jars as the local broker.
  const { libsDir } = await ensureKafkaJars(log);
  const workDir = await mkdtemp(join(tmpdir(), "kafka-scram-admin-"));
  let stopping: Promise<void> | undefined;
  // "system": TLS with the system's CAs; a path: TLS with that CA; unset: SASL_PLAINTEXT.
  const customCa = caFile && caFile !== "system" ? caFile : undefined;
  return {
    brokers,
    env: {
      KAFKA_BROKERS: brokers.join(","),
      ...(caFile && { KAFKA_SSL: "true" }),
      ...(customCa && { KAFKA_SSL_CA_FILE: customCa }),
    },
    source: "env",
    users: new ScramUserAdmin({
      brokers,
      setup,
      libsDir,
      workDir,
      ...(caFile && { tls: { caFile: customCa } }),
    }),
    stop: () => {
      stopping ??= rm(workDir, { recursive: true, force: true });
      return stopping;
    },
    pause: unsupported("env", "pause"),
    resume: unsupported("env", "resume"),
  };
}
