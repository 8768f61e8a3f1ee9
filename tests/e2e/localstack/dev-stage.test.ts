/**
 * A rehearsal of prod: the dev stage's own template deployed into LocalStack (the run's one
 * stack, tests/support/localstack-global-setup.ts), its parameters and secrets seeded by
 * localstack/init with this machine's services. Its functions read their secrets at run time;
 * its database secret names the transaction-mode pooler, migrate's Postgres itself; its Kafka
 * settings are the template's (TLS trusting the machine's CAs, SCRAM-SHA-256 with the seeded
 * secret), met by the local broker's SASL_SSL listener. In host mode a payment flows end to end:
 * api (through the pooler) → outbox → drain → Kafka → the sample consumer's inbox.
 */
import { InvokeCommand } from "@aws-sdk/client-lambda";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import pg from "pg";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEventValidators } from "../../../lib/events/validators.ts";
import { PaymentStatus } from "../../../lib/gen/payment/v1/payment_pb.ts";
import { devStageKafkaEnv } from "../../../tools/local-services/localstack-dev-stage.ts";
import { testKafka } from "../../support/kafka-topics.ts";
import {
  AUTHORIZED_TOPIC,
  consumeIntoInbox,
  DEV_API,
  devStageApi,
  openAccounts,
  waitForMessage,
} from "../../support/localstack-payments.ts";
import {
  deployed,
  type LocalStackSession,
  openLocalStack,
  STACK_WAIT_MS,
} from "../../support/localstack-session.ts";
import { localStackAvailability } from "../../support/localstack-stack.ts";

const availability = await localStackAvailability();
// The dev stage's parameters and secrets are seeded when LocalStack starts, pointing at the
// services of whoever started it: only a LocalStack started here can point them at this run's.
const devSkipped = !availability.kind || availability.kind === "env";
if (devSkipped)
  console.log(
    `LocalStack dev stage e2e skipped: ${availability.kind ? "LOCALSTACK_ENDPOINT's init hook seeded its own values" : availability.reason}`,
  );
// Its functions must reach this run's Postgres, broker and token issuer at host addresses.
const hostMode = availability.kind === "host";
if (!devSkipped && !hostMode)
  console.log(
    "LocalStack dev stage e2e: its payment end to end skipped: its functions run in containers, " +
      "which cannot reach this test's token issuer (host mode only)",
  );
// Nudged, the drain publishes in seconds; the schedule (every minute) is the fallback.
const PUBLISH_WAIT_MS = 150_000;

describe.skipIf(devSkipped)("the dev stage rehearsed in LocalStack", () => {
  let session: LocalStackSession;
  let db: pg.Pool;

  beforeAll(async () => {
    session = await openLocalStack(["dev"]);
    db = new pg.Pool({ connectionString: session.stack.databaseUrls.dev, max: 2 });
  }, STACK_WAIT_MS);

  afterAll(async () => {
    session?.close();
    await db?.end();
  });

  async function secret<T>(id: string): Promise<T> {
    const secrets = session.aws(SecretsManagerClient);
    try {
      const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: id }));
      return JSON.parse(SecretString ?? "{}") as T;
    } finally {
      secrets.destroy();
    }
  }

  it("creates every resource, with the SSM parameters and secrets resolved", async () => {
    const resources = await session.stackResources("dev");
    expect(resources.length).toBeGreaterThan(20);
    expect(resources.filter((r) => !deployed(r))).toEqual([]);
    const env = await session.environment(DEV_API);
    expect(env.JWT_JWKS_URL).toBe(
      session.stack.devIssuer?.jwksUrl ?? "http://localhost/.well-known/jwks.json",
    );
    expect(env.CORS_ALLOWED_ORIGINS).toBe("http://localhost:5173");
    // Secrets are read at run time from Secrets Manager: the configuration names them only.
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.DATABASE_SECRET_ARN).toMatch(/payment-ledger\/dev\/database/);
    expect(env.KAFKA_SASL_USERNAME).toBeUndefined();
    expect(env.KAFKA_SASL_PASSWORD).toBeUndefined();
    expect(JSON.stringify(env)).not.toContain("{{resolve:");
    expect(JSON.stringify(env)).not.toContain(session.stack.devFunctionDatabaseUrl);
  });

  it("keeps the functions' database secret on the pooler and migrate's on Postgres itself", async ({
    skip,
  }) => {
    const { poolerAddress } = session.stack;
    if (!poolerAddress) skip("no pooler in this run: the functions' secret names Postgres itself");
    const functions = new URL((await secret<{ url: string }>("payment-ledger/dev/database")).url);
    const migrations = new URL((await secret<{ url: string }>("payment-ledger/dev/database-migrations")).url);
    expect(functions.host).toBe(poolerAddress);
    expect(migrations.host).not.toBe(poolerAddress);
  });

  it("gives migrate its own secret, naming the same database", async () => {
    const functions = new URL((await secret<{ url: string }>("payment-ledger/dev/database")).url);
    const migrations = new URL((await secret<{ url: string }>("payment-ledger/dev/database-migrations")).url);
    expect(migrations.pathname).toBe(functions.pathname);
    const migrate = await session.environment("payment-ledger-dev-migrate");
    expect(migrate.MIGRATION_DATABASE_SECRET_ARN).toMatch(/payment-ledger\/dev\/database-migrations/);
  });

  // migrate's configuration holds no DATABASE_URL: reaching the database proves it read the secret.
  it("migrated the dev stage's database, with the URL it read from Secrets Manager", async () => {
    const { rows } = await db.query<{ name: string }>("SELECT name FROM schema_migrations");
    expect(rows.map((r) => r.name)).toContain("1732800000000_ledger");
  });

  it("publishes as its template says: TLS trusting the machine's CAs, SCRAM-SHA-256 with the seeded secret", async () => {
    // Host mode seeds the brokers parameter and the secret with the local broker's SASL_SSL
    // listener and its application login.
    const { kafkaEnv } = session.stack;
    for (const fn of ["drainOutbox", "deadLetter"]) {
      const env = await session.environment(`payment-ledger-dev-${fn}`);
      expect(env, fn).toMatchObject({ KAFKA_SSL: "true", KAFKA_SASL_MECHANISM: "scram-sha-256" });
      expect(env.KAFKA_SASL_SECRET_ARN, fn).toMatch(/payment-ledger\/dev\/kafka/);
      // No CA of its own and no login in the configuration: the machine's trust, the secret's login.
      expect(env.KAFKA_SSL_CA_FILE, fn).toBeUndefined();
      expect(env.KAFKA_SASL_USERNAME, fn).toBeUndefined();
      // The SSM parameter, resolved by CloudFormation at deploy time.
      if (hostMode) expect(env.KAFKA_BROKERS, fn).toBe(kafkaEnv.KAFKA_BROKERS);
    }
    if (!hostMode) return;
    expect(await secret("payment-ledger/dev/kafka")).toEqual({
      username: kafkaEnv.KAFKA_SASL_USERNAME,
      password: kafkaEnv.KAFKA_SASL_PASSWORD,
    });
  });

  /** For a failure message: the event's row, and what a drain run says and logs now. */
  async function whyNotPublished(paymentId: string): Promise<string> {
    const { rows } = await db.query(
      "SELECT id, attempts, next_attempt_at, published_at, dead_lettered_at, last_error FROM outbox WHERE aggregate_id = $1",
      [paymentId],
    );
    const drain = await session.lambda.send(
      new InvokeCommand({
        FunctionName: "payment-ledger-dev-drainOutbox",
        LogType: "Tail",
        Payload: new TextEncoder().encode(JSON.stringify({ source: "aws.events" })),
      }),
    );
    return [
      `outbox: ${JSON.stringify(rows)}`,
      `a drain run now: ${drain.FunctionError ?? "ok"} ${new TextDecoder().decode(drain.Payload)}`,
      Buffer.from(drain.LogResult ?? "", "base64").toString("utf8"),
    ].join("\n");
  }

  it.skipIf(!hostMode)(
    "carries a payment end to end: api through the pooler, outbox, drain, Kafka over SASL_SSL with SCRAM-SHA-256, the sample consumer's inbox",
    async ({ skip }) => {
      // As the dev stage's functions log in: the same listener and CA, SCRAM-SHA-256.
      const devKafka = devStageKafkaEnv(session.stack.kafkaEnv);
      const refused = await loginRefused(devKafka);
      if (refused) {
        const reason = `skipped: this run's broker (KAFKA_BROKERS) refuses the dev stage's SCRAM-SHA-256 login: ${refused}`;
        console.log(reason);
        skip(reason);
      }
      const clients = await devStageApi(session);
      const owner = `dev-${ulid()}`;
      const { payer, payee } = await openAccounts(clients, owner, `dev-payee-${ulid()}`);
      const paid = await clients(owner).authorizePayment({
        idempotencyKey: `dev-${ulid()}`,
        payerAccountId: payer,
        payeeAccountId: payee,
        amountCents: 500n,
        currency: "EUR",
        description: "dev stage",
      });
      expect(paid.status).toBe(PaymentStatus.AUTHORIZED);

      // Only the dev stage's drain reads the dev database: the message is its publish.
      const published = await waitForMessage(
        devKafka,
        AUTHORIZED_TOPIC,
        (m) => m.key === paid.paymentId,
        PUBLISH_WAIT_MS,
      ).catch(async (error: Error) => {
        throw new Error(`${error.message}\n${await whyNotPublished(paid.paymentId)}`);
      });
      expect(createEventValidators().event(JSON.parse(published.value))).toMatchObject({ ok: true });
      const eventId = published.headers.event_id ?? "";
      const { rows } = await db.query<{ status: string; event_type: string; published: boolean }>(
        `SELECT p.status, o.event_type, o.published_at IS NOT NULL AS published
           FROM payments p JOIN outbox o ON o.aggregate_id = p.id WHERE o.id = $1`,
        [eventId],
      );
      expect(rows).toEqual([{ status: "AUTHORIZED", event_type: "PaymentAuthorized", published: true }]);

      // And on to a consumer logged in as the dev stage would be: its inbox records the event.
      await consumeIntoInbox(devKafka, db, AUTHORIZED_TOPIC, eventId);
    },
    PUBLISH_WAIT_MS + 120_000,
  );
});

/** Why the broker refuses a login with `env`'s settings, or undefined when it takes it. */
async function loginRefused(env: Parameters<typeof testKafka>[0]): Promise<string | undefined> {
  const admin = testKafka(env, { retry: { retries: 1 } }).admin();
  try {
    await admin.connect();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
