/**
 * The web client's dev server as `npm run dev` runs it (its sessions, its
 * event feed reading a real broker, a real ledger database): it answers only
 * allow-listed Host names, its feed shows a subscriber only the payments the
 * api would let it read, and a stream ends when its token does.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig } from "../../lib/config.ts";
import { type DemoAccounts, seedDemo } from "../../scripts/demo-seed.ts";
import { freePort } from "../../tools/local-services/ports.ts";
import { type DevWebClient, startDevWebClient } from "../../web/dev/start.ts";
import type { FeedEvent } from "../../web/src/dev-session.ts";
import { createLedgerTopics, sharedKafkaEnv, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";
import { deadLetterService, drainSettings, InProcessDeadLetters, testDrain } from "../support/outbox.ts";

const AUTH = authConfig({
  JWT_SECRET: "web-dev-server-test-secret-0123456789abcdef",
  JWT_ISSUER: "https://issuer.web-dev.test",
  JWT_AUDIENCE: "payment-ledger-web-dev",
});
const CONFIGURED_HOST = "ledger.example.test";
const EVENT_TIMEOUT_MS = 45_000;

let fx: LedgerFixture;
let accounts: DemoAccounts;
let web: DevWebClient;
let port: number;
let prefix: string;
const closers: Array<() => Promise<void>> = [];

interface Answer {
  status: number;
  body: string;
}

function get(path: string, host: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // No Host header at all for "".
    const headers = host === "" ? {} : { host };
    const req = request({ host: "127.0.0.1", port, path, headers, setHost: host !== "" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once("error", reject);
    req.end();
  });
}

interface SseMessage {
  type: string;
  data: unknown;
}

/** One /dev/events stream: every message it sent, and when it ended. */
interface Stream {
  status: number;
  messages: SseMessage[];
  ended: Promise<void>;
  /** Resolves with the first message (already received or still to come) that matches. */
  next(match: (message: SseMessage) => boolean, what: string): Promise<SseMessage>;
  close(): void;
}

function openStream(token: string, host = `localhost:${port}`): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: `/dev/events?token=${encodeURIComponent(token)}`, headers: { host } },
      (res) => {
        const messages: SseMessage[] = [];
        const waiters: Array<() => void> = [];
        let buffer = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const type = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (type !== undefined && data !== undefined) messages.push({ type, data: JSON.parse(data) });
          }
          for (const wake of waiters.splice(0)) wake();
        });
        const ended = new Promise<void>((done) => res.once("close", () => done()));
        void ended.then(() => {
          for (const wake of waiters.splice(0)) wake();
        });
        let closed = false;
        void ended.then(() => {
          closed = true;
        });
        resolve({
          status: res.statusCode ?? 0,
          messages,
          ended,
          async next(match, what) {
            const deadline = Date.now() + EVENT_TIMEOUT_MS;
            for (;;) {
              const found = messages.find(match);
              if (found) return found;
              if (closed) throw new Error(`stream ended before ${what}: ${JSON.stringify(messages)}`);
              if (Date.now() > deadline) throw new Error(`no ${what}: ${JSON.stringify(messages)}`);
              await new Promise<void>((wake) => {
                waiters.push(wake);
                setTimeout(wake, 1000);
              });
            }
          },
          close: () => req.destroy(),
        });
      },
    );
    req.once("error", reject);
    req.end();
  });
}

async function within<T>(promise: Promise<T>, ms: number, failure: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(failure)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const isPayment = (paymentId: string) => (m: SseMessage) =>
  m.type === "payment" && (m.data as FeedEvent).paymentId === paymentId;
const paymentIds = (messages: SseMessage[]) =>
  messages.filter((m) => m.type === "payment").map((m) => (m.data as FeedEvent).paymentId);

/** Publishes everything in the outbox to the file's topics. */
async function drain(): Promise<void> {
  const { service, publisher: dlqPublisher } = deadLetterService(fx.pool, sharedKafkaEnv(), `${prefix}.dlq`);
  const { drain: outboxDrain, publisher } = testDrain({
    pool: fx.pool,
    kafka: sharedKafkaEnv(),
    settings: drainSettings(prefix),
    deadLetters: new InProcessDeadLetters(service),
  });
  try {
    await outboxDrain.run();
  } finally {
    await publisher.close();
    await dlqPublisher.close();
  }
}

beforeAll(async () => {
  fx = await ledgerFixture();
  accounts = await seedDemo(fx.pool);
  prefix = uniqueTopicPrefix();
  // The topics step of a deploy: the broker creates none by itself.
  await createLedgerTopics(sharedKafkaEnv(), prefix);
  await drain();
  port = await freePort();
  web = await startDevWebClient({
    port,
    apiUrl: "http://127.0.0.1:9",
    databaseUrl: fx.db.url,
    kafkaEnv: sharedKafkaEnv(),
    auth: AUTH,
    accounts,
    env: {
      OUTBOX_TOPIC_PREFIX: prefix,
      CONSUMER_GROUP_ID: `web-dev-test-${process.pid}-${Date.now()}`,
      DEV_ALLOWED_HOSTS: CONFIGURED_HOST,
    },
  });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await web?.stop();
  await fx?.close();
});

describe("Host allow-list (DNS rebinding)", () => {
  it.each(["/dev/session?owner=alice", "/", "/dev/events?token=x"])(
    "a foreign Host gets 403 for %s, and nothing is minted",
    async (path) => {
      for (const host of [
        `rebind.attacker.example:${port}`,
        "rebind.attacker.example",
        `localhost.evil:${port}`,
        `evil@localhost:${port}`,
      ]) {
        const answer = await get(path, host);
        expect(answer.status, host).toBe(403);
        expect(answer.body).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
        expect(answer.body).toContain("DEV_ALLOWED_HOSTS");
      }
      // No Host at all: refused too (Node's own 400 for HTTP/1.1, or ours).
      const bare = await get(path, "");
      expect(bare.status).toBeGreaterThanOrEqual(400);
      expect(bare.body).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    },
  );

  it.each(["localhost", "127.0.0.1", "[::1]", "LOCALHOST", CONFIGURED_HOST])(
    "%s (any port) is served",
    async (name) => {
      const session = await get("/dev/session?owner=alice", `${name}:${port}`);
      expect(session.status).toBe(200);
      expect(JSON.parse(session.body)).toMatchObject({ subject: "alice" });
      expect((await get("/", name)).status).toBe(200);
    },
  );
});

describe("the event feed applies the api's access policy", () => {
  const fundingOf = (owner: "alice" | "bob") => `demo-seed-funding-${accounts[owner].accountId}`;
  let fundingIds: Record<"alice" | "bob", string>;

  beforeAll(async () => {
    const { rows } = await fx.pool.query<{ id: string; idempotency_key: string }>(
      "SELECT id, idempotency_key FROM payments WHERE idempotency_key = ANY($1)",
      [[fundingOf("alice"), fundingOf("bob")]],
    );
    const byKey = new Map(rows.map((row) => [row.idempotency_key, row.id]));
    fundingIds = { alice: byKey.get(fundingOf("alice")) ?? "", bob: byKey.get(fundingOf("bob")) ?? "" };
    // Both funding events have reached the feed (and are remembered) once alice and bob saw theirs.
    for (const owner of ["alice", "bob"] as const) {
      const stream = await openStream(await signLocalToken(AUTH, { subject: owner }));
      await stream.next(isPayment(fundingIds[owner]), `${owner}'s funding event`);
      stream.close();
    }
  });

  /** What a new subscriber is replayed: every payment message before the first outbox status. */
  async function replayed(token: string): Promise<string[]> {
    const stream = await openStream(token);
    expect(stream.status).toBe(200);
    closers.push(async () => stream.close());
    const status = await stream.next((m) => m.type === "outbox", "the outbox status after the replay");
    return paymentIds(stream.messages.slice(0, stream.messages.indexOf(status)));
  }

  it("a token for subject treasury without the operator scope sees none of the treasury's payments", async () => {
    const treasury = await replayed(await signLocalToken(AUTH, { subject: "treasury" }));
    expect(treasury).not.toContain(fundingIds.alice);
    expect(treasury).not.toContain(fundingIds.bob);
  });

  it("an operator sees them (operators act for system accounts); alice sees only her own", async () => {
    const operator = await replayed(await signLocalToken(AUTH, { subject: "ops", operator: true }));
    expect(operator).toEqual(expect.arrayContaining([fundingIds.alice, fundingIds.bob]));
    const alice = await replayed(await signLocalToken(AUTH, { subject: "alice" }));
    expect(alice).toContain(fundingIds.alice);
    expect(alice).not.toContain(fundingIds.bob);
  });

  it("live events too: treasury (no operator scope) gets its own customer account's payment, not the funding before it", async () => {
    const treasuryToken = await signLocalToken(AUTH, { subject: "treasury" });
    const stream = await openStream(treasuryToken);
    const operator = await openStream(await signLocalToken(AUTH, { subject: "ops", operator: true }));
    closers.push(
      async () => stream.close(),
      async () => operator.close(),
    );
    await stream.next((m) => m.type === "outbox", "the outbox status");
    await operator.next((m) => m.type === "outbox", "the outbox status");
    // A customer account the subject "treasury" owns, like anyone's.
    const own = await fx.service.createAccount({ owner: "treasury", currency: "EUR", system: false });
    const funding = await fx.service.authorizePayment({
      idempotencyKey: uniqueKey("live-funding"),
      payerAccountId: (await fx.systemAccount("EUR")).accountId,
      payeeAccountId: accounts.bob.accountId,
      amountCents: 5n,
      currency: "EUR",
      description: "live funding",
    });
    const marker = await fx.service.authorizePayment({
      idempotencyKey: uniqueKey("marker"),
      payerAccountId: accounts.alice.accountId,
      payeeAccountId: own.accountId,
      amountCents: 1n,
      currency: "EUR",
      description: "to treasury's own account",
    });
    await drain();
    await operator.next(isPayment(funding.paymentId), "the live funding, for the operator");
    // The feed hands events on in the order it reads them: by the marker, the funding was decided.
    await stream.next(isPayment(marker.paymentId), "the payment into treasury's own account");
    expect(paymentIds(stream.messages)).not.toContain(funding.paymentId);
  });
});

describe("a stream ends when its token expires", () => {
  it("short-lived token: events flow, then an expired message and the end; the same token is refused after", async () => {
    const token = await signLocalToken(AUTH, { subject: "alice", ttlSeconds: 2 });
    const stream = await openStream(token);
    expect(stream.status).toBe(200);
    await stream.next((m) => m.type === "outbox", "the outbox status");
    await within(stream.ended, 30_000, "the stream is still open long after its token expired");
    expect(stream.messages.at(-1)?.type).toBe("expired");
    const again = await get(`/dev/events?token=${encodeURIComponent(token)}`, `localhost:${port}`);
    expect(again.status).toBe(401);
  });
});
