/**
 * The local stage deployed into LocalStack with the documented script (localstack/deploy.sh:
 * the topics, `serverless deploy` through AWS_ENDPOINT_URL, then the migrate function): every
 * resource made, the functions wired to the pooler and the broker as documented, migrate run
 * through its function, and the printed buf curl working as printed. The stack is the run's one
 * (tests/support/localstack-global-setup.ts).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../tools/local-services/localstack.ts";
import { apiFunctionUrl, type FunctionUrlTarget } from "../../../tools/local-services/localstack-api.ts";
import { AUTHORIZED_TOPIC, DECLINED_TOPIC, DLQ_TOPIC } from "../../support/localstack-payments.ts";
import {
  deployed,
  type LocalStackSession,
  openLocalStack,
  STACK_WAIT_MS,
} from "../../support/localstack-session.ts";
import { localStackAvailability } from "../../support/localstack-stack.ts";

const execFileAsync = promisify(execFile);
const availability = await localStackAvailability();
if (!availability.kind) console.log(`LocalStack e2e skipped: ${availability.reason}`);

describe.skipIf(!availability.kind)("the local stage deployed into LocalStack", () => {
  let session: LocalStackSession;
  let deployOutput: string;
  let db: pg.Pool;
  let api: FunctionUrlTarget;

  beforeAll(async () => {
    session = await openLocalStack(["local"]);
    deployOutput = session.stack.deployOutputs.local ?? "";
    db = new pg.Pool({ connectionString: session.stack.databaseUrls.local, max: 2 });
    api = await apiFunctionUrl(session.stack.endpoint);
  }, STACK_WAIT_MS);

  afterAll(async () => {
    session?.close();
    await db?.end();
  });

  const configuration = (fn: string) => session.environment(`payment-ledger-local-${fn}`);

  it("creates every resource of the local stage, the api's function URL included", async () => {
    const resources = await session.stackResources("local");
    expect(resources.length).toBeGreaterThan(20);
    expect(resources.filter((r) => !deployed(r))).toEqual([]);
    expect(resources.map((r) => r.ResourceType)).toContain("AWS::Lambda::Url");
    expect(resources.map((r) => r.ResourceType)).not.toContain("AWS::ApiGatewayV2::Api");
  });

  it("made the topics in its topics step, and gave the functions the broker's TLS and SCRAM settings", async () => {
    for (const topic of [AUTHORIZED_TOPIC, DECLINED_TOPIC, DLQ_TOPIC]) {
      expect(deployOutput).toMatch(new RegExp(`(created|ok) +${topic.replace(".", "\\.")}`));
    }
    for (const fn of ["drainOutbox", "deadLetter"]) {
      const env = await configuration(fn);
      expect(env, fn).toMatchObject({ KAFKA_SSL: "true", KAFKA_SASL_MECHANISM: "scram-sha-512" });
      expect(env.KAFKA_SSL_CA_FILE, fn).toBeTruthy();
      expect(env.KAFKA_SASL_USERNAME, fn).toBeTruthy();
    }
  });

  it("points the functions at the transaction-mode pooler", async ({ skip }) => {
    const { poolerAddress } = session.stack;
    if (!poolerAddress) skip("no pooler in this run: the functions connect to Postgres directly");
    const env = await configuration("api");
    expect(new URL(env.DATABASE_URL ?? "").host).toBe(poolerAddress);
    const migrate = await configuration("migrate");
    expect(new URL(migrate.MIGRATION_DATABASE_URL ?? "").host).not.toBe(poolerAddress);
  });

  it("gives migrate a database URL of its own, naming the api's database", async () => {
    const migrate = await configuration("migrate");
    expect(migrate.MIGRATION_DATABASE_URL).toBeDefined();
    expect(new URL(migrate.MIGRATION_DATABASE_URL ?? "").pathname).toBe(
      new URL((await configuration("api")).DATABASE_URL ?? "").pathname,
    );
  });

  it("migrated the database through the migrate function, and migrates again as a no-op", async () => {
    const { rows } = await db.query<{ name: string }>("SELECT name FROM schema_migrations");
    expect(rows.map((r) => r.name)).toContain("1732800000000_ledger");
    expect(await session.invoke("payment-ledger-local-migrate", {})).toMatchObject({
      applied: [],
      functions: expect.arrayContaining(["020_authorize_payment.sql"]),
    });
    const after = await db.query<{ name: string }>("SELECT name FROM schema_migrations");
    expect(after.rows).toHaveLength(rows.length);
  });

  it("prints the function URL and a buf curl that works as printed", async () => {
    expect(deployOutput).toContain(api.url);
    const printed = deployOutput.slice(deployOutput.indexOf("npx buf curl"));
    const command = printed.slice(
      0,
      printed.indexOf("grpc.health.v1.Health/Check") + "grpc.health.v1.Health/Check".length,
    );
    const { stdout } = await execFileAsync("sh", ["-c", command.replace(/\\\n/g, " ")], {
      cwd: PROJECT_ROOT,
      timeout: 60_000,
    });
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });
});
