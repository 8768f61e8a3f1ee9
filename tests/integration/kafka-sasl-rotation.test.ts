/**
 * Kafka's side of secret rotation, on a real broker that takes SASL/SCRAM
 * logins: the producers the drain and the dead-letter function publish
 * through (kafkaProducers) read their credentials from a secret; when the
 * broker refuses them, the secret is fetched once more and the publish tried
 * once more, and never more than that. The user's password is changed with
 * Kafka's own kafka-configs, as an operator's rotation would. The secret
 * lives in LocalStack's Secrets Manager when LOCALSTACK_ENDPOINT is set, else
 * in the in-process store (tests/support/secret-store.ts).
 */
import { randomBytes } from "node:crypto";
import { type Admin, Kafka, logLevel, type Producer, type ProducerConfig } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kafkaConfig } from "../../lib/config.ts";
import { UnavailableError } from "../../lib/errors.ts";
import {
  isSaslAuthenticationFailure,
  KafkaCredentialsRejectedError,
  kafkajsConfig,
  kafkaProducers,
  type ProducerSource,
} from "../../lib/kafka/client.ts";
import { classifyKafkaError } from "../../lib/kafka/errors.ts";
import { KafkaPublisher, type OutgoingMessage } from "../../lib/kafka/publisher.ts";
import { waitForLeaders } from "../../lib/kafka/topic-provisioning.ts";
import type { Log } from "../../lib/logging.ts";
import { kafkajsSasl, provideScramKafka, type ScramKafkaHandle } from "../../tools/local-services/kafka.ts";
import { type TestSecretStore, testSecretStore } from "../support/secret-store.ts";

const run = `${process.pid}-${Date.now().toString(36)}`;
const user = `ledger-${run}`;
const topic = `payments.sasl-rotation-${run}`;

let broker: ScramKafkaHandle | undefined;
let skipped: string | undefined;
let store: TestSecretStore;
const newPassword = () => randomBytes(18).toString("base64url");
/** The test user's password on the broker now. */
let password = newPassword();
const publishers: KafkaPublisher[] = [];
/** Each test's secret. */
let testCount = 0;

function scram(): ScramKafkaHandle {
  if (!broker) throw new Error("no SCRAM broker");
  return broker;
}

const secretValue = (password: string) => JSON.stringify({ username: user, password });

/** Everything kafkajs logged through the function's logger, as the drain's would receive it. */
class RecordingLog implements Log {
  readonly lines: { message: string; attributes: Record<string, unknown>[] }[] = [];
  debug = (message: string, ...attributes: Record<string, unknown>[]) => this.record(message, attributes);
  info = (message: string, ...attributes: Record<string, unknown>[]) => this.record(message, attributes);
  warn = (message: string, ...attributes: Record<string, unknown>[]) => this.record(message, attributes);
  error = (message: string, ...attributes: Record<string, unknown>[]) => this.record(message, attributes);

  private record(message: string, attributes: Record<string, unknown>[]): void {
    this.lines.push({ message, attributes });
  }

  /** Logins the broker refused: kafkajs' SCRAM authenticator logs each once, naming the broker. */
  refusedLogins(): number {
    return this.lines.filter(
      ({ message, attributes }) =>
        /^SASL SCRAM SHA(256|512) authentication failed/.test(message) &&
        attributes.some((a) => (a.kafka as { broker?: unknown } | undefined)?.broker !== undefined),
    ).length;
  }

  text(): string {
    return JSON.stringify(this.lines);
  }
}

/**
 * The producers one container builds (kafkaProducers: credentials from
 * `secretId`, cached an hour so only a refusal can cause a fetch), and what
 * they did: publish attempts run (a first one, and any retry) and the logins
 * the broker refused. Counted around the real thing, nothing stubbed.
 */
class SecretProducers implements ProducerSource {
  attempts = 0;
  readonly log = new RecordingLog();
  private readonly inner: ProducerSource;

  constructor(readonly secretId: string) {
    const config = kafkaConfig({
      // The listener (SASL_SSL, trusting the broker's CA); the login comes from the secret.
      ...scram().env,
      KAFKA_SASL_MECHANISM: scram().users.mechanism.toLowerCase(),
      KAFKA_SASL_SECRET_ARN: secretId,
      SECRETS_CACHE_TTL_SECONDS: "3600",
      KAFKA_CONNECTION_TIMEOUT_MS: "2000",
      KAFKA_RETRIES: "2",
      KAFKA_RETRY_INITIAL_MS: "100",
      KAFKA_RETRY_MAX_MS: "500",
      KAFKA_LOG_LEVEL: "error",
    });
    this.inner = kafkaProducers(config, this.log, store);
  }

  connectProducer(options: ProducerConfig): Promise<Producer> {
    return this.inner.connectProducer(options);
  }

  withCredentials<R>(publish: () => Promise<R>): Promise<R> {
    return this.inner.withCredentials(() => {
      this.attempts += 1;
      return publish();
    });
  }

  missingTopics(topics: readonly string[]): Promise<string[]> {
    return this.inner.missingTopics(topics);
  }

  /** A publisher as the drain and the dead-letter function build one. */
  publisher(): KafkaPublisher {
    const publisher = new KafkaPublisher(this);
    publishers.push(publisher);
    return publisher;
  }

  counts(): { secretReads: number; attempts: number; refusedLogins: number } {
    return {
      secretReads: store.reads(this.secretId),
      attempts: this.attempts,
      refusedLogins: this.log.refusedLogins(),
    };
  }
}

/** Producers reading a new secret that holds `secretPassword`. */
async function producersWith(secretPassword: string): Promise<SecretProducers> {
  testCount += 1;
  const secretId = `payment-ledger/test/${run}/kafka-${testCount}`;
  await store.put(secretId, secretValue(secretPassword));
  return new SecretProducers(secretId);
}

/** A rotation: the broker and the secret change; the producers' cache still holds the old password. */
async function rotate(producers: SecretProducers): Promise<void> {
  password = newPassword();
  await scram().users.setPassword(user, password);
  await store.put(producers.secretId, secretValue(password));
}

function message(value: string): OutgoingMessage {
  return { topic, key: "acct-1", value, headers: { "event-id": value } };
}

/** Runs `work` with a kafkajs admin logged in as the test user with `password`. */
async function asUser<T>(password: string, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Kafka({
    ...kafkajsConfig(kafkaConfig(scram().env)),
    clientId: "sasl-rotation-test",
    sasl: kafkajsSasl(scram().users.mechanism, { username: user, password }),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Messages on the topic so far. */
function messagesOnTopic(password: string): Promise<number> {
  return asUser(password, async (admin) =>
    (await admin.fetchTopicOffsets(topic)).reduce((sum, { high }) => sum + Number(high), 0),
  );
}

beforeAll(async () => {
  const provided = await provideScramKafka({ log: (line) => console.error(`[sasl test] ${line}`) });
  if ("skipped" in provided) {
    skipped = provided.skipped;
    return;
  }
  broker = provided.handle;
  store = testSecretStore();
  console.log(`secrets from: ${store.kind}; SCRAM broker from: ${broker.source}`);
  await broker.users.setPassword(user, password);
  await asUser(password, (admin) =>
    // kafkajs' own wait gives up on a broker that does not know the new topic yet.
    admin
      .createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: false })
      .then(() => waitForLeaders(admin, [topic])),
  );
}, 240_000);

afterAll(async () => {
  await Promise.all(publishers.map((publisher) => publisher.close().catch(() => undefined)));
  if (broker?.source === "env") await broker.users.deleteUser(user).catch(() => undefined);
  await broker?.stop();
  await store?.close();
}, 60_000);

function requireBroker(skip: (note?: string) => void): void {
  if (skipped) {
    console.log(`skipped: ${skipped}`);
    skip(skipped);
  }
}

describe("Kafka SASL credentials from a secret, on a broker that takes SCRAM logins", () => {
  it("publishes; after a rotation, a new connection is refused once, the secret is fetched once more, and the publish goes through", async ({
    skip,
  }) => {
    requireBroker(skip);
    const producers = await producersWith(password);
    const published = await messagesOnTopic(password);
    const warm = producers.publisher();
    await warm.publish([message("before-rotation")]);
    expect(producers.counts()).toEqual({ secretReads: 1, attempts: 1, refusedLogins: 0 });

    await rotate(producers);
    // Connections already logged in stay logged in: no new login, no fetch.
    await warm.publish([message("open-connection")]);
    expect(producers.counts()).toEqual({ secretReads: 1, attempts: 2, refusedLogins: 0 });

    // A new producer of the same container (the next one after a failed send) logs in again:
    // refused with the cached password, the secret is read once more, the second attempt works.
    await producers.publisher().publish([message("new-connection")]);
    expect(producers.counts()).toEqual({ secretReads: 2, attempts: 4, refusedLogins: 1 });

    // The fresh value is cached: later producers need no more reads.
    await producers.publisher().publish([message("cached")]);
    expect(producers.counts()).toEqual({ secretReads: 2, attempts: 5, refusedLogins: 1 });
    expect(await messagesOnTopic(password)).toBe(published + 4);
  });

  it("a warm producer whose connections drop (broker restart) after a rotation: its new login is refused, the secret is read once more, and the same publish goes through", async ({
    skip,
  }) => {
    requireBroker(skip);
    if (scram().source !== "local") {
      const reason = `skipped: restarting the broker needs one this test started (the SCRAM broker comes from ${scram().source})`;
      console.log(reason);
      skip(reason);
    }
    const producers = await producersWith(password);
    const warm = producers.publisher();
    await warm.publish([message("before-restart")]);

    await rotate(producers);
    // Every connection drops, as when a broker restarts or closes idle connections (10 min by default).
    await scram().pause();
    await scram().resume();
    const published = await messagesOnTopic(password);

    await warm.publish([message("after-restart")]);
    // kafkajs itself tries the stale password on more than one connection within the failed
    // send (leader, then metadata from the seed broker); the retry after the read is ours, and single.
    expect(producers.counts()).toMatchObject({ secretReads: 2, attempts: 3 });
    expect(producers.counts().refusedLogins).toBeGreaterThan(0);
    expect(await messagesOnTopic(password)).toBe(published + 1);
    // A JVM restart is bounded by the broker's own readiness wait (90 s), not the default test budget.
  }, 180_000);

  it("when the secret itself is wrong: one more read, one more attempt, then a typed UNAVAILABLE error naming the secret but no value; never a loop", async ({
    skip,
  }) => {
    requireBroker(skip);
    const wrongPassword = newPassword();
    const producers = await producersWith(wrongPassword);
    const publisher = producers.publisher();
    const published = await messagesOnTopic(password);

    const error = await publisher.publish([message("never-sent")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KafkaCredentialsRejectedError);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ code: "UNAVAILABLE" });
    expect((error as Error).message).toContain(producers.secretId);
    expect(isSaslAuthenticationFailure(error)).toBe(true);
    // The drain's classifier: the broker is unusable, not the event; no delivery attempt is burnt.
    expect(classifyKafkaError(error).kind).toBe("unavailable");
    // The first read and exactly one more after the refusal; two attempts, each one refused login.
    expect(producers.counts()).toEqual({ secretReads: 2, attempts: 2, refusedLogins: 2 });

    // Every later publish costs the same, no more.
    await expect(publisher.publish([message("never-sent-either")])).rejects.toThrow(
      KafkaCredentialsRejectedError,
    );
    expect(producers.counts()).toEqual({ secretReads: 3, attempts: 4, refusedLogins: 4 });

    for (const value of [wrongPassword, password]) {
      expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(value);
      expect(String((error as Error & { cause?: unknown }).cause)).not.toContain(value);
      expect(producers.log.text()).not.toContain(value);
    }
    expect(await messagesOnTopic(password)).toBe(published);
  });
});
