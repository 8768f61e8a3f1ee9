/**
 * What `npm run dev` prints once everything is up: where the api answers, `buf curl` calls that
 * work as printed (a token of alice's, the demo accounts), and how other commands reach this
 * run's services.
 */
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig, devConfig } from "../../lib/config.ts";
import type { KafkaClientEnv } from "../../tools/local-services/kafka.ts";
import { DEMO_CURRENCY, type DemoAccounts } from "../demo-seed.ts";

export interface DevServices {
  /** Where the functions (and the seed, the summary, the web client) connect: through the pooler. */
  databaseUrl: string;
  /** Where migrate connects: Postgres itself (or DATABASE_URL as given). */
  migrationUrl: string;
  /** How a client reaches Kafka (lib/config.ts's KAFKA_* settings). */
  kafkaEnv: KafkaClientEnv;
}

export interface DevApi {
  /** Where the api answers. */
  baseUrl: string;
  /** The Host header that selects it (a LocalStack function URL). */
  host?: string;
}

export interface DevPage {
  url: string;
  /** The origins the api lets a browser call it from. */
  corsOrigins: readonly string[];
}

export async function printInstructions(
  api: DevApi,
  accounts: DemoAccounts,
  services: DevServices,
  /** The web client (serverless offline only). */
  page?: DevPage,
): Promise<void> {
  const auth = authConfig(process.env);
  const token = await signLocalToken(auth, { subject: "alice", ttlSeconds: 8 * 3600 });
  const url = `${api.baseUrl}/payment.v1.PaymentService`;
  const curl = (method: string, body: object) =>
    [
      "npx buf curl --protocol grpcweb --schema proto \\",
      ...(api.host ? [`  -H 'Host: ${api.host}' \\`] : []),
      `  -H 'Authorization: Bearer ${token}' \\`,
      `  -d '${JSON.stringify(body)}' \\`,
      `  ${url}/${method}`,
    ].join("\n");
  console.log(
    [
      "",
      page
        ? `Ready. Web client: ${page.url}  (sign in as alice; the api allows browser calls from ${page.corsOrigins.join(", ")})`
        : `Ready. The api answers at ${api.baseUrl}${api.host ? ` with Host: ${api.host}` : ""}`,
      "",
      "From the project directory, as alice (token valid 8 h):",
      "",
      curl("GetAccountBalance", { accountId: accounts.alice.accountId }),
      "",
      curl("AuthorizePayment", {
        idempotencyKey: `demo-${Date.now()}`,
        payerAccountId: accounts.alice.accountId,
        payeeAccountId: accounts.bob.accountId,
        amountCents: "1250",
        currency: DEMO_CURRENCY,
        description: "coffee",
      }),
      "",
      `Other tokens: npm run token -- --sub bob   (--operator for CreateAccount of system accounts)`,
      ...(auth.jwksUrl ? ["Note: JWT_JWKS_URL is set, so the api refuses these locally signed tokens."] : []),
      "The drain publishes outbox events to Kafka every minute (and when nudged). Ctrl-C stops everything.",
      ...summaryNote(),
      // .dev/env.sh is written for the offline stack only: its API_URL needs no Host header.
      `Kafka: ${services.kafkaEnv.KAFKA_BROKERS}${kafkaAccess(services.kafkaEnv)}`,
      ...(page
        ? [
            "Other commands (npm run consume, status, topics, redrive, migrate; README's walkthrough) reach this run after:",
            "  . .dev/env.sh",
            `  (it exports API_URL, DATABASE_URL='${services.databaseUrl}', MIGRATION_DATABASE_URL, KAFKA_BROKERS='${services.kafkaEnv.KAFKA_BROKERS}' with the Kafka TLS and login settings, the demo account ids)`,
          ]
        : [
            "Other commands (npm run consume, status, topics, redrive, migrate) reach these services with:",
            `  export ${shellAssignments({ DATABASE_URL: services.databaseUrl, MIGRATION_DATABASE_URL: services.migrationUrl, ...services.kafkaEnv })}`,
          ]),
      "",
    ].join("\n"),
  );
}

/** How the listener is reached, in a few words: ", TLS (CA …), SCRAM-SHA-512 login as …". */
function kafkaAccess(env: KafkaClientEnv): string {
  const tls =
    env.KAFKA_SSL === "true" ? `, TLS${env.KAFKA_SSL_CA_FILE ? ` (CA ${env.KAFKA_SSL_CA_FILE})` : ""}` : "";
  const login = env.KAFKA_SASL_MECHANISM
    ? `, ${env.KAFKA_SASL_MECHANISM.toUpperCase()} login as ${env.KAFKA_SASL_USERNAME ?? "?"}`
    : "";
  return `${tls}${login}`;
}

/** `NAME='value' …`, quoted for a POSIX shell. */
export function shellAssignments(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}='${value.replace(/'/g, "'\\''")}'`)
    .join(" ");
}

function summaryNote(): string[] {
  const { summaryIntervalMs } = devConfig(process.env);
  if (summaryIntervalMs === 0) return [];
  return [
    `Below, a "summary │" line every ${summaryIntervalMs / 1000} s while payments, the outbox or dead letters move (DEV_SUMMARY_INTERVAL_MS; 0 turns it off).`,
  ];
}
