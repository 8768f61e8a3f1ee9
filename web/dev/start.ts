/**
 * The web client as `npm run dev` runs it: the page's dev server, its
 * sessions for the demo owners and the event feed, started and stopped as one.
 */
import { AccessPolicy, type LedgerReader } from "../../lib/api/access-policy.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import {
  type AuthConfig,
  consumerConfig,
  databaseConfig,
  devConfig,
  kafkaConfig,
  outboxConfig,
  paymentsConfig,
} from "../../lib/config.ts";
import { createPool } from "../../lib/db/pool.ts";
import { createKafka } from "../../lib/kafka/client.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import type { Account } from "../../lib/payments/model.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { startEventFeed } from "./event-feed.ts";
import { startWebDevServer } from "./server.ts";
import { createDevSessions } from "./sessions.ts";

type Env = Record<string, string | undefined>;

export interface DevWebClientOptions {
  port: number;
  /** Host name of the page's origin: "localhost" in `npm run dev`. */
  publicHost?: string;
  apiUrl: string;
  databaseUrl: string;
  /** How to reach Kafka: lib/config.ts's KAFKA_* settings (the broker's client env). */
  kafkaEnv: Readonly<Record<string, string>>;
  auth: AuthConfig;
  /** The demo owners' accounts. */
  accounts: Record<string, Account>;
  /** Topic prefix, consumer group and allowed host settings (lib/config.ts): `npm run dev` passes process.env. */
  env: Env;
}

export interface DevWebClient {
  url: string;
  origin: string;
  stop(): Promise<void>;
}

export async function startDevWebClient(options: DevWebClientOptions): Promise<DevWebClient> {
  const { env } = options;
  const outbox = outboxConfig(env);
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: options.databaseUrl }), poolMax: 2 });
  const kafka = createKafka(kafkaConfig({ ...env, ...options.kafkaEnv, KAFKA_LOG_LEVEL: "nothing" }));
  const store = new PgLedgerStore(pool, { rollUpEvery: 0 });
  const ledger = new PaymentService(store, paymentsConfig(env));
  try {
    const events = await startEventFeed({
      kafka,
      pool,
      // Its own group: `npm run consume` (the default group) keeps receiving every event too.
      groupId: `${consumerConfig(env).groupId}-web-dev`,
      topics: { prefix: outbox.topicPrefix, dlq: outbox.dlqTopic },
      // The api's own policy, so the page shows exactly what the api would let its caller read.
      access: new AccessPolicy(accountsCached(ledger)),
      findPayment: (paymentId) => store.findPayment(paymentId),
    });
    const server = await startWebDevServer({
      port: options.port,
      ...(options.publicHost ? { publicHost: options.publicHost } : {}),
      apiUrl: options.apiUrl,
      allowedHosts: devConfig(env).allowedHosts,
      sessions: createDevSessions(options.auth, options.accounts),
      verifier: createTokenVerifier(options.auth),
      events,
    }).catch(async (error: unknown) => {
      await events.stop();
      throw error;
    });
    return {
      url: server.url,
      origin: server.origin,
      stop: async () => {
        await server.stop();
        await events.stop();
        await pool.end();
      },
    };
  } catch (error) {
    await pool.end();
    throw error;
  }
}

/** An account's owner and system flag never change: each account is read once. */
function accountsCached(ledger: LedgerReader): LedgerReader {
  const accounts = new Map<string, Account>();
  return {
    async getAccount(accountId) {
      const known = accounts.get(accountId);
      if (known) return known;
      const account = await ledger.getAccount(accountId);
      accounts.set(accountId, account);
      return account;
    },
    getPayment: (paymentId) => ledger.getPayment(paymentId),
  };
}
