import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, type KafkaConfig, logLevel } from "kafkajs";

/** How a client reaches a listener: TLS and SASL, as kafkajs takes them. */
export type ListenerAccess = Pick<KafkaConfig, "ssl" | "sasl">;

export interface WaitOptions {
  timeoutMs: number;
  /** How the probes connect and log in. */
  access?: ListenerAccess;
  /** Returns a reason once the broker can no longer come up (e.g. its process exited), to fail fast. */
  deadReason?: () => string | undefined;
  /** Extra diagnostics (e.g. the broker's log tail) appended to the failure message. */
  diagnostics?: () => Promise<string>;
}

const POLL_INTERVAL_MS = 250;

/**
 * Resolves once a Kafka client can fetch cluster metadata from `brokers` and the group and
 * transaction coordinators answer.
 */
export async function waitForKafka(brokers: string[], options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = "no attempt made";
  while (Date.now() < deadline) {
    const dead = options.deadReason?.();
    if (dead) return fail(`kafka: broker died while starting: ${dead}`, options);
    try {
      await describeCluster(brokers, options.access ?? {});
      await warmUpCoordinators(brokers, options.access ?? {});
      return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(POLL_INTERVAL_MS);
  }
  return fail(
    `kafka: broker at ${brokers.join(",")} not ready after ${options.timeoutMs / 1000} s (last error: ${lastError})`,
    options,
  );
}

async function describeCluster(brokers: string[], access: ListenerAccess): Promise<void> {
  // kafkajs' own retries would outlast a poll round, and its connection errors are expected here.
  const kafka = new Kafka({
    clientId: "kafka-ready-probe",
    brokers,
    ...access,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error("metadata lists no brokers yet");
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * The first consumer group and the first idempotent producer make the broker create and load
 * __consumer_offsets / __transaction_state. Until then clients get "coordinator is loading"
 * errors, which kafkajs retries but logs at ERROR level in every test. Absorb that here, silently.
 */
async function warmUpCoordinators(brokers: string[], access: ListenerAccess): Promise<void> {
  const kafka = new Kafka({
    clientId: "kafka-warm-up",
    brokers,
    ...access,
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  const admin = kafka.admin();
  // connect() of an idempotent producer sends InitProducerId to the transaction coordinator.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await admin.connect();
    await Promise.all([admin.describeGroups(["kafka-warm-up"]), producer.connect()]);
  } finally {
    await Promise.all([admin.disconnect(), producer.disconnect()]).catch(() => undefined);
  }
}

async function fail(message: string, options: WaitOptions): Promise<never> {
  const extra = options.diagnostics ? await options.diagnostics().catch(() => "") : "";
  throw new Error(extra ? `${message}\n${extra}` : message);
}
