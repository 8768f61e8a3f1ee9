/**
 * A real Kafka-protocol broker for integration tests and local dev, picked in this order:
 *   1. KAFKA_BROKERS (comma-separated host:port): used as is, nothing is started;
 *   2. a Redpanda container, when a Docker daemon answers;
 *   3. a local Apache Kafka (KRaft, single node) JVM from Maven Central jars (needs JDK 17 + Maven).
 */
import { dockerStatus } from "./docker.ts";
import type { StartedRedpanda } from "./kafka/docker.ts";
import { type LocalBroker, startLocalBroker } from "./kafka/local-broker.ts";
import { waitForKafka } from "./kafka/wait-ready.ts";

export interface KafkaHandle {
  brokers: string[];
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
    log(`kafka: using KAFKA_BROKERS=${fromEnv.join(",")}`);
    return envHandle(fromEnv);
  }

  const docker = await dockerStatus();
  if (docker.available) {
    // Loaded lazily: testcontainers is slow to import and not needed without Docker.
    const { startRedpanda } = await import("./kafka/docker.ts");
    const container = await startRedpanda();
    const handle = await dockerHandle(container);
    log(`kafka: docker ${container.description} on ${handle.brokers.join(",")} (started in ${elapsed()})`);
    return handle;
  }
  log(`kafka: Docker not used (${docker.reason}); starting a local Apache Kafka JVM`);

  const broker = await startLocalBroker(log);
  log(`kafka: local Apache Kafka ${broker.version} on ${broker.brokers.join(",")} (started in ${elapsed()})`);
  return localHandle(broker);
}

function brokersFromEnv(): string[] | undefined {
  const brokers = (process.env.KAFKA_BROKERS ?? "")
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

function envHandle(brokers: string[]): KafkaHandle {
  return {
    brokers,
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
    await waitForKafka(container.brokers, { timeoutMs: DOCKER_READY_TIMEOUT_MS });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    brokers: container.brokers,
    source: "docker",
    stop,
    pause: unsupported("docker", "pause"),
    resume: unsupported("docker", "resume"),
  };
}

function localHandle(broker: LocalBroker): KafkaHandle {
  return {
    brokers: broker.brokers,
    source: "local",
    stop: () => broker.stop(),
    pause: () => broker.pause(),
    resume: () => broker.resume(),
    died: broker.died,
  };
}
