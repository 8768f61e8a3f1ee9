/**
 * The dev stage's database secret rotated while its api is warm (host mode: the functions reach
 * this run's Postgres and the keeper's token issuer at host addresses). The password changes in
 * Postgres and in Secrets Manager, nothing else. The api's role is one of its own (not the
 * superuser the harness uses), and its open sessions are ended, as a password change alone does
 * not end them: the warm container must log in again, is refused with the password it cached,
 * and must fetch the secret again, all without a redeploy or a configuration change. The stack
 * is the run's one (tests/support/localstack-global-setup.ts).
 */
import { randomBytes } from "node:crypto";
import { GetFunctionConfigurationCommand } from "@aws-sdk/client-lambda";
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseConfig } from "../../../lib/config.ts";
import { PaymentStatus } from "../../../lib/gen/payment/v1/payment_pb.ts";
import { createDatabaseRole, type DatabaseRole } from "../../support/database-role.ts";
import { executionEnvironments } from "../../support/lambda-environments.ts";
import {
  DEV_API,
  devStageApi,
  openAccounts,
  type PaymentClients,
} from "../../support/localstack-payments.ts";
import { type LocalStackSession, openLocalStack, STACK_WAIT_MS } from "../../support/localstack-session.ts";
import { localStackAvailability } from "../../support/localstack-stack.ts";

const availability = await localStackAvailability();
const hostMode = availability.kind === "host";
if (!hostMode)
  console.log(
    "LocalStack e2e: dev stage secret rotation skipped: " +
      (availability.kind
        ? `its functions must reach this test's token issuer and Postgres at host addresses (host mode only; here: ${availability.kind})`
        : availability.reason),
  );

describe.skipIf(!hostMode)("the dev stage's database secret, rotated under its warm api", () => {
  let session: LocalStackSession;
  let clients: PaymentClients;
  let devDatabaseUrl: string;

  beforeAll(async () => {
    session = await openLocalStack(["dev"]);
    devDatabaseUrl = session.stack.databaseUrls.dev;
    // The function URL, made before anything is compared.
    clients = await devStageApi(session);
  }, STACK_WAIT_MS);

  afterAll(() => session?.close());

  async function payments(owner: string) {
    const { payer, payee } = await openAccounts(clients, owner, `payee-${ulid()}`);
    const client = clients(owner);
    return {
      payer,
      pay: (amountCents: bigint, idempotencyKey = `rotation-${ulid()}`) =>
        client.authorizePayment({
          idempotencyKey,
          payerAccountId: payer,
          payeeAccountId: payee,
          amountCents,
          currency: "EUR",
          description: "rotation",
        }),
      balance: async () => (await client.getAccountBalance({ accountId: payer })).availableBalanceCents,
    };
  }

  describe("rotating the database secret", () => {
    let admin: pg.Client;
    let role: DatabaseRole;
    let secrets: SecretsManagerClient;
    let secretId: string;
    let originalSecret: string | undefined;
    let password: string;
    let cacheTtlMs: number;
    let passwordsEnforced = false;
    const newPassword = () => `pw-${randomBytes(12).toString("hex")}`;

    const putSecret = (value: string) =>
      secrets.send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ url: value }) }),
      );
    /** Everything GetFunctionConfiguration says about the api, serialized (a redeploy or an update changes it). */
    async function apiConfiguration(): Promise<string> {
      const { $metadata: _, ...configuration } = await session.lambda.send(
        new GetFunctionConfigurationCommand({ FunctionName: DEV_API }),
      );
      return JSON.stringify(configuration);
    }
    function requirePasswords(skip: (note?: string) => void): void {
      if (passwordsEnforced) return;
      const reason = "skipped: this Postgres accepts any password (trust authentication)";
      console.log(reason);
      skip(reason);
    }

    beforeAll(async () => {
      const env = await session.environment(DEV_API);
      secretId = env.DATABASE_SECRET_ARN ?? "";
      cacheTtlMs = databaseConfig(env).secret?.ttlMs ?? 0;
      // The cache outlives every test here (180 s each): a fetch within one is the refusal's doing, not the TTL's.
      expect(cacheTtlMs).toBeGreaterThan(180_000);
      admin = new pg.Client({ connectionString: devDatabaseUrl });
      await admin.connect();
      password = newPassword();
      role = await createDatabaseRole(
        admin,
        devDatabaseUrl,
        `ledger_app_${process.pid}_${Date.now().toString(36)}`,
        password,
      );
      passwordsEnforced = (await role.loginError("not-the-password")) === "28P01";
      secrets = session.aws(SecretsManagerClient);
      originalSecret = (await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
      // The application role's secret names Postgres itself, not the pooler: the pooler's user
      // list is its own (PgBouncer's auth file; RDS Proxy's registered secrets), and this test
      // is about the function's secret cache, not the pooler's.
      await putSecret(role.url(password));
    }, 120_000);

    afterAll(async () => {
      if (originalSecret)
        await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: originalSecret }));
      await role?.drop().catch((error: unknown) => console.log(`could not drop ${role.name}: ${error}`));
      await admin?.end();
      secrets?.destroy();
    });

    it("keeps serving after the password is rotated: the warm container fetches the new secret, with no redeploy", async ({
      skip,
    }) => {
      requirePasswords(skip);
      const { pay, balance } = await payments(`grace-${ulid()}`);
      expect((await pay(1_000n)).status).toBe(PaymentStatus.AUTHORIZED);
      expect(await balance()).toBe(9_000n);
      const before = await apiConfiguration();
      // One warm container served those calls; it must be the one that serves the next.
      const environments = await executionEnvironments(session.stack.endpoint, DEV_API);
      expect(environments).toHaveLength(1);

      const previous = password;
      password = newPassword();
      await role.setPassword(password);
      await putSecret(role.url(password));
      // The api's pooled session survived the password change; end it, so it must log in again.
      // On a slow machine it may already have closed on its idle timeout: either way, none is left.
      await role.terminateSessions();
      expect(await role.loginError(previous)).toBe("28P01");

      const paid = await pay(2_500n);
      expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
      // It paid as the rotated role, with the new password: its session is there now.
      const sessions = await admin.query("SELECT 1 FROM pg_stat_activity WHERE usename = $1", [role.name]);
      expect(sessions.rowCount).toBeGreaterThan(0);
      expect(await balance()).toBe(6_500n);
      const { rows } = await admin.query<{ amount: bigint; entries: number }>(
        `SELECT p.amount, (SELECT count(*)::int FROM ledger_entries e WHERE e.payment_id = p.id) AS entries
           FROM payments p WHERE p.id = $1 AND p.status = 'AUTHORIZED'`,
        [paid.paymentId],
      );
      expect(rows).toEqual([{ amount: 2_500n, entries: 2 }]);
      // Only the new password logs in, and the same container logged in: it read the new secret.
      expect(await executionEnvironments(session.stack.endpoint, DEV_API)).toEqual(environments);
      expect(await apiConfiguration()).toBe(before);
    }, 180_000);

    it("answers UNAVAILABLE, naming nothing of the secret, while the secret is wrong; fixing the secret heals it", async ({
      skip,
    }) => {
      requirePasswords(skip);
      const { pay, balance } = await payments(`ivan-${ulid()}`);
      const before = await apiConfiguration();
      const environments = await executionEnvironments(session.stack.endpoint, DEV_API);

      // A rotation gone wrong: Postgres has a new password, the secret a wrong one.
      const previous = password;
      const wrong = newPassword();
      password = newPassword();
      await role.setPassword(password);
      await putSecret(role.url(wrong));
      await role.terminateSessions();

      const key = `while-wrong-${ulid()}`;
      for (const call of [() => pay(300n, key), balance]) {
        const error = ConnectError.from(
          await call().then(
            () => "answered OK",
            (e: unknown) => e,
          ),
        );
        expect(error.code, error.message).toBe(Code.Unavailable);
        const seen = JSON.stringify({ message: error.rawMessage, metadata: [...error.metadata] });
        for (const secret of [wrong, password, previous, role.name, devDatabaseUrl])
          expect(seen).not.toContain(secret);
      }

      await putSecret(role.url(password));
      // Nothing was written while it failed: the same key pays now, for the first time.
      expect((await pay(300n, key)).status).toBe(PaymentStatus.AUTHORIZED);
      expect(await balance()).toBe(9_700n);
      expect(await executionEnvironments(session.stack.endpoint, DEV_API)).toEqual(environments);
      expect(await apiConfiguration()).toBe(before);
    }, 180_000);
  });

  // After the rotation tests: their afterAll put the seeded secret (the pooler's) back and dropped
  // their role, so the warm api is refused with the role it cached and fetches the secret again.
  it("authorizes a payment again once the seeded secret is back, committed through the pooler it names", async () => {
    const { pay } = await payments(`dev-${ulid()}`);
    const paid = await pay(500n);
    expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
    const check = new pg.Client({ connectionString: devDatabaseUrl });
    await check.connect();
    try {
      const { rows } = await check.query(
        `SELECT p.status, o.event_type FROM payments p JOIN outbox o ON o.aggregate_id = p.id WHERE p.id = $1`,
        [paid.paymentId],
      );
      expect(rows).toEqual([{ status: "AUTHORIZED", event_type: "PaymentAuthorized" }]);
    } finally {
      await check.end();
    }
  }, 180_000);
});
