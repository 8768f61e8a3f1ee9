/**
 * The web client as `npm run dev` runs it: the page's dev server, its
 * sessions for the demo owners and the event feed, started and stopped as one.
 */
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import {
  type AuthConfig,
  consumerConfig,
  databaseConfig,
  kafkaConfig,
  outboxConfig,
} from "../../lib/config.ts";
import { createPool } from "../../lib/db/pool.ts";
import { createKafka } from "../../lib/kafka/client.ts";
import { ledgerTopics } from "../../lib/kafka/messages.ts";
import type { Account } from "../../lib/payments/model.ts";
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
  /** Topic prefix and consumer group settings (lib/config.ts); default process.env. */
  env?: Env;
}

export interface DevWebClient {
  url: string;
  origin: string;
  stop(): Promise<void>;
}

export async function startDevWebClient(options: DevWebClientOptions): Promise<DevWebClient> {
  const env = options.env ?? process.env;
  const outbox = outboxConfig(env);
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: options.databaseUrl }), poolMax: 2 });
  const kafka = createKafka(kafkaConfig({ ...env, ...options.kafkaEnv, KAFKA_LOG_LEVEL: "nothing" }));
  try {
    const events = await startEventFeed({
      kafka,
      pool,
      // Its own group: `npm run consume` (the default group) keeps receiving every event too.
      groupId: `${consumerConfig(env).groupId}-web-dev`,
      topics: ledgerTopics(outbox),
      dlqTopic: outbox.dlqTopic,
    });
    const server = await startWebDevServer({
      port: options.port,
      ...(options.publicHost ? { publicHost: options.publicHost } : {}),
      apiUrl: options.apiUrl,
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
