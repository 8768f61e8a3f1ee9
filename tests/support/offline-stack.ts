/**
 * The set-up the serverless-offline end-to-end files share: a fresh database (reached through the
 * run's pooler, as the functions reach theirs), the ledger's topics under a prefix of the file's
 * own on the run's broker (made as a deploy makes them: the broker makes none by itself), and
 * `serverless offline` running the real bundles against both, with a gRPC-web client of its api
 * and an AWS SDK client of its Lambda Invoke API.
 */
import { LambdaClient } from "@aws-sdk/client-lambda";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig, databaseConfig } from "../../lib/config.ts";
import { createPool, type Pool } from "../../lib/db/pool.ts";
import { PaymentService } from "../../lib/gen/payment/v1/payment_pb.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import type { KafkaClientEnv } from "../../tools/local-services/kafka.ts";
import { DUMMY_AWS_ENV, type OfflineHandle, startOffline } from "../../tools/local-services/offline.ts";
import { freePorts } from "../../tools/local-services/ports.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { testDatabase } from "./database.ts";
import { createLedgerTopics, sharedKafkaEnv, uniqueTopicPrefix } from "./kafka-topics.ts";

export interface OfflineStackOptions {
  /** Names the file's database and esbuild work folder. */
  name: string;
  /** The api's token settings (JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE): clientAs signs with them. */
  auth: Record<string, string>;
  /** More settings for the functions (when the drain runs, CORS, log level, …). */
  env?: Record<string, string>;
  /** The functions' statement bound: their role's default, set by migrate. */
  statementTimeoutMs?: number;
  /** Runs on the migrated database before offline starts (a file's own triggers and tables). */
  prepare?(pool: Pool): Promise<void>;
}

export interface OfflineStack {
  db: TestDatabase;
  /** A small pool of the file's own on the database (through the pooler). */
  pool: Pool;
  offline: OfflineHandle;
  /** offline's Lambda Invoke API, as the schedule, the nudge and the drain's dead-letter invoke reach it. */
  lambda: LambdaClient;
  kafkaEnv: KafkaClientEnv;
  /** The file's topic prefix (OUTBOX_TOPIC_PREFIX) and its topics. */
  prefix: string;
  topics: { authorized: string; declined: string; dlq: string };
  /** A gRPC-web client of the api (binary), calling as `subject` with a token signed here. */
  clientAs(subject: string, operator?: boolean): Promise<Client<typeof PaymentService>>;
  stop(): Promise<void>;
}

export async function startOfflineStack(options: OfflineStackOptions): Promise<OfflineStack> {
  const db = await testDatabase(
    options.name,
    options.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: options.statementTimeoutMs },
  );
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 2 });
  let offline: OfflineHandle | undefined;
  try {
    const kafkaEnv = sharedKafkaEnv();
    const prefix = uniqueTopicPrefix();
    await createLedgerTopics(kafkaEnv, prefix);
    await options.prepare?.(pool);
    const [httpPort = 0, lambdaPort = 0] = await freePorts(2);
    offline = await startOffline({
      httpPort,
      lambdaPort,
      workFolder: `.esbuild/${options.name}-${process.pid}`,
      env: {
        ...options.auth,
        DATABASE_URL: db.url,
        // The shared broker's listener: TLS trusting its CA, SCRAM login.
        ...kafkaEnv,
        KAFKA_LOG_LEVEL: "nothing",
        OUTBOX_TOPIC_PREFIX: prefix,
        POWERTOOLS_LOG_LEVEL: "WARN",
        ...options.env,
      },
    });
    const lambda = new LambdaClient({
      endpoint: offline.lambdaEndpoint,
      region: DUMMY_AWS_ENV.AWS_REGION,
      credentials: {
        accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
        secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
      },
    });
    const auth = authConfig(options.auth);
    const started = offline;
    return {
      db,
      pool,
      offline: started,
      lambda,
      kafkaEnv,
      prefix,
      topics: {
        authorized: topicFor(prefix, "PaymentAuthorized"),
        declined: topicFor(prefix, "PaymentDeclined"),
        dlq: `${prefix}.dlq`,
      },
      clientAs: async (subject, operator = false) => {
        const token = await signLocalToken(auth, { subject, operator });
        const transport = createGrpcWebTransport({
          baseUrl: started.httpUrl,
          useBinaryFormat: true,
          interceptors: [
            (next) => async (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
          ],
        });
        return createClient(PaymentService, transport);
      },
      stop: async () => {
        lambda.destroy();
        await started.stop();
        await pool.end();
        await db.drop();
      },
    };
  } catch (error) {
    await offline?.stop();
    await pool.end();
    await db.drop();
    throw error;
  }
}
