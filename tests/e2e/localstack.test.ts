/**
 * The stack deployed into LocalStack with the documented script (localstack/deploy.sh:
 * `serverless deploy` through AWS_ENDPOINT_URL, then the migrate function), once per stage and
 * shared by every test here. LocalStack comes from LOCALSTACK_ENDPOINT, Docker, or host mode
 * (tests/support/localstack-stack.ts); with none of them the suite skips and says why.
 *
 * The local stage's api is called through its function URL by connect-web and buf curl; events
 * reach Kafka through the nudge and, with the nudge off, through the schedule alone; poison
 * events and a failing deadLetter take the same paths as on AWS. The dev stage's functions read
 * their secrets at run time; in host mode its warm api keeps serving while its database secret
 * is rotated.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { CloudFormationClient, ListStackResourcesCommand } from "@aws-sdk/client-cloudformation";
import { DisableRuleCommand, EnableRuleCommand, EventBridgeClient } from "@aws-sdk/client-eventbridge";
import {
  CreateFunctionUrlConfigCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionUpdatedV2,
} from "@aws-sdk/client-lambda";
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import pg from "pg";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig, databaseConfig } from "../../lib/config.ts";
import { InboxProcessor } from "../../lib/consumer/inbox.ts";
import { startInboxConsumer } from "../../lib/consumer/run.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { PaymentService, PaymentStatus } from "../../lib/gen/payment/v1/payment_pb.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import { PROJECT_ROOT } from "../../tools/local-services/localstack.ts";
import {
  apiFunctionUrl,
  type FunctionUrlTarget,
  fetchWithHost,
  LOCALSTACK_CREDENTIALS,
} from "../../tools/local-services/localstack-api.ts";
import { createDatabaseRole, type DatabaseRole } from "../support/database-role.ts";
import { type JwksIssuer, startJwksIssuer } from "../support/jwks-issuer.ts";
import { type ReceivedMessage, readTopics, testKafka } from "../support/kafka-topics.ts";
import { executionEnvironments } from "../support/lambda-environments.ts";
import {
  type LocalStackStack,
  localStackAvailability,
  startLocalStackStack,
} from "../support/localstack-stack.ts";
import { insertOutboxEvents } from "../support/outbox.ts";

const execFileAsync = promisify(execFile);

/** Alive and not a zombie (an orphan's zombie lingers until this machine's init reaps it). */
async function running(pid: number): Promise<boolean> {
  const { readFile } = await import("node:fs/promises");
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return stat !== "" && state !== "Z" && state !== "X";
}
const availability = await localStackAvailability();
if (!availability.kind) console.log(`LocalStack e2e skipped: ${availability.reason}`);
else console.log(`LocalStack e2e: ${availability.reason}`);

const REGION = "us-east-1";
const AUTH_ENV = {
  JWT_SECRET: "localstack-e2e-secret-0123456789abcdef",
  JWT_ISSUER: "https://issuer.localstack.test",
  JWT_AUDIENCE: "payment-ledger-localstack",
};
const AUTHORIZED_TOPIC = topicFor("payments", "PaymentAuthorized");
const DECLINED_TOPIC = topicFor("payments", "PaymentDeclined");
const DLQ_TOPIC = "payments.dlq";
// The schedule fires every minute; a generous margin for a busy machine.
const SCHEDULE_WAIT_MS = 150_000;
const DEPLOY_TIMEOUT_MS = 600_000;

/** The api's clients, one per caller (subject, operator or not). */
type PaymentClients = (subject: string, operator?: boolean) => Client<typeof PaymentService>;

/** gRPC-web clients of the api behind `target`, each sending the token `token` makes for its caller. */
function paymentClientsAt(
  target: FunctionUrlTarget,
  token: (subject: string, operator: boolean) => Promise<string>,
): PaymentClients {
  return (subject, operator = false) =>
    createClient(
      PaymentService,
      createGrpcWebTransport({
        baseUrl: target.baseUrl,
        useBinaryFormat: true,
        fetch: fetchWithHost(target.host),
        interceptors: [
          (next) => async (req) => {
            req.header.set("authorization", `Bearer ${await token(subject, operator)}`);
            return next(req);
          },
        ],
      }),
    );
}

describe.skipIf(!availability.kind)("deployed into LocalStack", () => {
  let stack: LocalStackStack;
  let deployOutput: string;
  let lambda: LambdaClient;
  let db: pg.Pool;
  let api: FunctionUrlTarget;
  // The dev stage's token issuer (JWT_JWKS_URL): its api is called in host mode only, where its
  // functions run on this machine and reach this key set.
  let issuer: JwksIssuer | undefined;

  const aws = <T>(make: new (config: object) => T): T =>
    new make({ endpoint: stack.endpoint, region: REGION, credentials: LOCALSTACK_CREDENTIALS });

  async function deploy(stage: "local" | "dev", env: Record<string, string> = {}): Promise<string> {
    try {
      const { stdout, stderr } = await execFileAsync("sh", ["localstack/deploy.sh", stage], {
        cwd: PROJECT_ROOT,
        env: {
          ...process.env,
          ...AUTH_ENV,
          ...stack.deployEnv,
          ...env,
          ESBUILD_WORK_FOLDER: `.esbuild/localstack-${stage}-${process.pid}`,
        },
        maxBuffer: 32 * 1024 * 1024,
        timeout: DEPLOY_TIMEOUT_MS,
      });
      return `${stdout}\n${stderr}`;
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `deploy ${stage} failed: ${failed.message}\n${failed.stdout}\n${failed.stderr}\n` +
          `LocalStack's log:\n${(await stack.output()).slice(-6000)}`,
      );
    }
  }

  beforeAll(async () => {
    if (!availability.kind) return;
    if (availability.kind === "host") issuer = await startJwksIssuer();
    stack = await startLocalStackStack(availability.kind, { devJwksUrl: issuer?.jwksUrl });
    // No topic is made here: the deploy's topics step (npm run topics) makes them.
    deployOutput = await deploy("local");
    lambda = aws(LambdaClient);
    db = new pg.Pool({ connectionString: stack.databaseUrl("local"), max: 2 });
    api = await apiFunctionUrl(stack.endpoint);
  }, DEPLOY_TIMEOUT_MS + 300_000);

  afterAll(async () => {
    lambda?.destroy();
    await db?.end();
    await stack?.stop();
    await issuer?.close();
  });

  async function invoke(functionName: string, payload: unknown): Promise<unknown> {
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: `payment-ledger-local-${functionName}`,
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
    const text = new TextDecoder().decode(out.Payload);
    expect(out.FunctionError, text).toBeUndefined();
    return JSON.parse(text);
  }

  async function stackResources(stage: string) {
    const cloudformation = aws(CloudFormationClient);
    try {
      const out = await cloudformation.send(
        new ListStackResourcesCommand({ StackName: `payment-ledger-${stage}` }),
      );
      return out.StackResourceSummaries ?? [];
    } finally {
      cloudformation.destroy();
    }
  }

  async function setSchedule(enabled: boolean): Promise<void> {
    // The drain's schedule (the maintenance function has one of its own).
    const rules = (await stackResources("local")).filter(
      (r) => r.ResourceType === "AWS::Events::Rule" && r.LogicalResourceId?.startsWith("DrainOutbox"),
    );
    expect(rules).toHaveLength(1);
    const events = aws(EventBridgeClient);
    try {
      const Name = rules[0]?.PhysicalResourceId;
      await events.send(enabled ? new EnableRuleCommand({ Name }) : new DisableRuleCommand({ Name }));
    } finally {
      events.destroy();
    }
  }

  const setEnvironment = (functionName: string, changes: Record<string, string>) =>
    setEnvironmentOf(`payment-ledger-local-${functionName}`, changes);

  async function setEnvironmentOf(FunctionName: string, changes: Record<string, string>): Promise<void> {
    const current = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName }));
    await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName,
        Environment: { Variables: { ...current.Environment?.Variables, ...changes } },
      }),
    );
    await waitUntilFunctionUpdatedV2({ client: lambda, maxWaitTime: 60 }, { FunctionName });
  }

  const localToken = (subject: string, operator: boolean) =>
    signLocalToken(authConfig(AUTH_ENV), { subject, operator });
  /** The local stage's api, with tokens signed by its JWT_SECRET. */
  const paymentClient: PaymentClients = (subject, operator) =>
    paymentClientsAt(api, localToken)(subject, operator);

  /** A funded EUR account of `owner` and an empty one of `payee`, opened and funded by an operator. */
  async function openAccounts(
    owner: string,
    payee: string,
    clients: PaymentClients = paymentClient,
  ): Promise<{ payer: string; payee: string }> {
    const ops = clients("ops", true);
    const treasury = (await ops.createAccount({ owner: "treasury", currency: "EUR", system: true })).account;
    const payer = (await ops.createAccount({ owner, currency: "EUR" })).account;
    const other = (await ops.createAccount({ owner: payee, currency: "EUR" })).account;
    const funded = await ops.authorizePayment({
      idempotencyKey: `fund-${ulid()}`,
      payerAccountId: treasury?.accountId ?? "",
      payeeAccountId: payer?.accountId ?? "",
      amountCents: 10_000n,
      currency: "EUR",
      description: "funding",
    });
    expect(funded.status).toBe(PaymentStatus.AUTHORIZED);
    return { payer: payer?.accountId ?? "", payee: other?.accountId ?? "" };
  }

  async function waitForMessage(
    topic: string,
    matches: (message: ReceivedMessage) => boolean,
    timeoutMs: number,
  ): Promise<ReceivedMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (await readTopics(testKafka(stack.kafkaEnv), [topic])).find(matches);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no matching message on ${topic} within ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }

  it("creates every resource of the local stage, the api's function URL included", async () => {
    const resources = await stackResources("local");
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
      const env =
        (
          await lambda.send(
            new GetFunctionConfigurationCommand({ FunctionName: `payment-ledger-local-${fn}` }),
          )
        ).Environment?.Variables ?? {};
      expect(env, fn).toMatchObject({ KAFKA_SSL: "true", KAFKA_SASL_MECHANISM: "scram-sha-512" });
      expect(env.KAFKA_SSL_CA_FILE, fn).toBeTruthy();
      expect(env.KAFKA_SASL_USERNAME, fn).toBeTruthy();
    }
  });

  it("points the functions at the transaction-mode pooler and migrate at Postgres itself", async () => {
    const env = (
      await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "payment-ledger-local-api" }))
    ).Environment?.Variables;
    if (stack.poolerAddress) expect(new URL(env?.DATABASE_URL ?? "").host).toBe(stack.poolerAddress);
    else console.log("no pooler in this run: the functions connect to Postgres directly");
    const migrate = (
      await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "payment-ledger-local-migrate" }))
    ).Environment?.Variables;
    expect(migrate?.MIGRATION_DATABASE_URL).toBeDefined();
    expect(new URL(migrate?.MIGRATION_DATABASE_URL ?? "").host).not.toBe(stack.poolerAddress);
  });

  it("migrated the database through the migrate function, and migrates again as a no-op", async () => {
    const { rows } = await db.query<{ name: string }>("SELECT name FROM schema_migrations");
    expect(rows.map((r) => r.name)).toContain("1732800000000_ledger");
    expect(await invoke("migrate", {})).toMatchObject({
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

  it("authorizes a payment through the function URL with connect-web; the nudge publishes it", async () => {
    // Only the nudge can publish while the schedule is off.
    await setSchedule(false);
    const owner = `alice-${ulid()}`;
    const { payer, payee } = await openAccounts(owner, `bob-${ulid()}`);
    const paid = await paymentClient(owner).authorizePayment({
      idempotencyKey: `connect-web-${ulid()}`,
      payerAccountId: payer,
      payeeAccountId: payee,
      amountCents: 1_250n,
      currency: "EUR",
      description: "coffee",
    });
    expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
    const message = await waitForMessage(AUTHORIZED_TOPIC, (m) => m.key === paid.paymentId, 60_000);
    expect(createEventValidators().event(JSON.parse(message.value))).toMatchObject({ ok: true });

    // And on to a consumer: the sample consumer's inbox records it, exactly once.
    const consumerGroup = `localstack-e2e-${ulid()}`;
    const consumer = await startInboxConsumer({
      kafka: testKafka(stack.kafkaEnv),
      groupId: consumerGroup,
      topics: [AUTHORIZED_TOPIC],
      processor: new InboxProcessor({
        pool: db,
        consumer: consumerGroup,
        validators: createEventValidators(),
        topics: { prefix: "payments", dlq: DLQ_TOPIC },
        effect: async () => {},
      }),
      fromBeginning: true,
    });
    try {
      const eventId = message.headers.event_id;
      for (;;) {
        const { rows } = await db.query("SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2", [
          consumerGroup,
          eventId,
        ]);
        if (rows.length === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    } finally {
      await consumer.disconnect();
    }
  });

  it("authorizes a payment through the function URL with buf curl", async () => {
    const owner = `carol-${ulid()}`;
    const { payer, payee } = await openAccounts(owner, `dave-${ulid()}`);
    const token = await signLocalToken(authConfig(AUTH_ENV), { subject: owner });
    const body = {
      idempotencyKey: `buf-curl-${ulid()}`,
      payerAccountId: payer,
      payeeAccountId: payee,
      amountCents: "700",
      currency: "EUR",
      description: "tea",
    };
    const { stdout } = await execFileAsync(
      "node_modules/.bin/buf",
      [
        "curl",
        "--protocol",
        "grpcweb",
        "--schema",
        "proto",
        "-H",
        `Host: ${api.host}`,
        "-H",
        `Authorization: Bearer ${token}`,
        "-d",
        JSON.stringify(body),
        `${api.baseUrl}/payment.v1.PaymentService/AuthorizePayment`,
      ],
      { cwd: PROJECT_ROOT, timeout: 60_000 },
    );
    const response = JSON.parse(stdout) as { status: string; paymentId: string };
    expect(response.status).toBe("PAYMENT_STATUS_AUTHORIZED");
    expect(response.paymentId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it(
    "with the nudge off, the schedule alone publishes the event",
    async () => {
      await setEnvironment("api", { OUTBOX_NUDGE_ENABLED: "false" });
      await setSchedule(true);
      try {
        const owner = `erin-${ulid()}`;
        const { payer, payee } = await openAccounts(owner, `frank-${ulid()}`);
        const paid = await paymentClient(owner).authorizePayment({
          idempotencyKey: `schedule-${ulid()}`,
          payerAccountId: payer,
          payeeAccountId: payee,
          amountCents: 300n,
          currency: "EUR",
          description: "by schedule",
        });
        expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
        await waitForMessage(AUTHORIZED_TOPIC, (m) => m.key === paid.paymentId, SCHEDULE_WAIT_MS);
      } finally {
        await setEnvironment("api", { OUTBOX_NUDGE_ENABLED: "true" });
      }
    },
    SCHEDULE_WAIT_MS + 60_000,
  );

  it("sends a poison event through deadLetter to payments.dlq", async () => {
    const aggregateId = ulid();
    // Fails the envelope schema: the drain dead-letters it at once.
    const [eventId] = await insertOutboxEvents(db, [{ aggregateId, payload: { payment_id: aggregateId } }]);
    // (A scheduled drain may take it first: either way it must end on the DLQ.)
    await invoke("drainOutbox", { source: "aws.events" });
    const message = await waitForMessage(DLQ_TOPIC, (m) => m.value.includes(eventId ?? "-"), 60_000);
    expect(createEventValidators().deadLetter(JSON.parse(message.value))).toMatchObject({ ok: true });
    const { rows } = await db.query("SELECT published_at FROM dead_letters WHERE event_id = $1", [eventId]);
    expect(rows[0]?.published_at).toBeInstanceOf(Date);
  });

  it("puts a deadLetter invocation that keeps failing into the on-failure queue", async () => {
    // A broker nobody listens on: deadLetter records the event, fails, is retried twice, gives up.
    const before =
      (
        await lambda.send(
          new GetFunctionConfigurationCommand({ FunctionName: "payment-ledger-local-deadLetter" }),
        )
      ).Environment?.Variables ?? {};
    await setEnvironment("deadLetter", { KAFKA_BROKERS: "127.0.0.1:9", KAFKA_RETRIES: "0" });
    const eventId = ulid();
    const envelope = {
      event_id: eventId,
      aggregate_type: "Payment",
      aggregate_id: ulid(),
      event_type: "PaymentAuthorized",
      payload: {},
      timestamp: new Date().toISOString(),
      retry_count: 5,
      failed_at: new Date().toISOString(),
      error: "e2e: unpublishable",
    };
    try {
      await lambda.send(
        new InvokeCommand({
          FunctionName: "payment-ledger-local-deadLetter",
          InvocationType: "Event",
          Payload: new TextEncoder().encode(JSON.stringify(envelope)),
        }),
      );
      const sqs = aws(SQSClient);
      try {
        const { QueueUrl } = await sqs.send(
          new GetQueueUrlCommand({ QueueName: "payment-ledger-local-dead-letter-failures" }),
        );
        const deadline = Date.now() + 180_000;
        let body: string | undefined;
        while (!body && Date.now() < deadline) {
          const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
          body = out.Messages?.find((m) => m.Body?.includes(eventId))?.Body;
        }
        expect(body, "no on-failure record within 180 s").toBeDefined();
        const record = JSON.parse(body ?? "{}");
        expect(record.requestContext).toMatchObject({
          condition: "RetriesExhausted",
          approximateInvokeCount: 3,
        });
        expect(record.requestPayload).toEqual(envelope);
      } finally {
        sqs.destroy();
      }
      const { rows } = await db.query("SELECT published_at FROM dead_letters WHERE event_id = $1", [eventId]);
      expect(rows).toEqual([{ published_at: null }]);
    } finally {
      await setEnvironment("deadLetter", {
        KAFKA_BROKERS: before.KAFKA_BROKERS ?? "",
        KAFKA_RETRIES: before.KAFKA_RETRIES ?? "3",
      });
    }
  }, 300_000);

  /**
   * Created by this deploy. The deployment bucket alone shows UPDATE_COMPLETE: the
   * framework creates it in a first, minimal stack and then updates the stack
   * with everything else, which adds its versioning and lifecycle settings.
   */
  function deployed(resource: {
    LogicalResourceId?: string | undefined;
    ResourceStatus?: string | undefined;
  }): boolean {
    if (resource.ResourceStatus === "CREATE_COMPLETE") return true;
    return (
      resource.LogicalResourceId === "ServerlessDeploymentBucket" &&
      resource.ResourceStatus === "UPDATE_COMPLETE"
    );
  }

  it(
    "deploys a running stage again with its migrations first, and the api answers throughout",
    async () => {
      // The first deploy of the stage had nothing running: stack first, then migrate.
      expect(deployOutput).toContain("payment-ledger-local-migrate does not exist yet");
      const owner = `carol-${ulid()}`;
      const { payer, payee } = await openAccounts(owner, `dave-${ulid()}`);
      const again = await deploy("local");
      const migrateFirst = again.indexOf(
        "deploy: updating payment-ledger-local-migrate and migrating before the stack deploy",
      );
      const stackDeploy = again.indexOf("deploy: deploying the local stack");
      expect(migrateFirst, again.slice(-4000)).toBeGreaterThanOrEqual(0);
      expect(stackDeploy).toBeGreaterThan(migrateFirst);
      // migrate ran between the two (its invoke prints what it applied), and once more after.
      expect(again.slice(migrateFirst, stackDeploy)).toContain("020_authorize_payment.sql");
      const paid = await paymentClient(owner).authorizePayment({
        idempotencyKey: `after-redeploy-${ulid()}`,
        payerAccountId: payer,
        payeeAccountId: payee,
        amountCents: 1n,
        currency: "EUR",
        description: "after redeploy",
      });
      expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
      // A whole deploy runs inside: bounded by the deploy's own timeout, not the default 60 s.
    },
    DEPLOY_TIMEOUT_MS + 60_000,
  );

  describe("the node-process executor", () => {
    const FUNCTION = `executor-probe-${process.pid}`;
    const SOURCE = `
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { LambdaClient } from "@aws-sdk/client-lambda";
if (process.env.FAIL_INIT) throw new Error("init failed on purpose");
export const handler = async (event, context) => {
  console.log("event", JSON.stringify(event));
  if (event.throw) throw new TypeError("handler failed on purpose");
  if (event.exit) process.exit(3);
  if (event.hang) {
    const child = spawn("sleep", ["300"], { stdio: "ignore" });
    writeFileSync(event.hang, String(child.pid));
    await new Promise(() => undefined);
  }
  return {
    cwd: process.cwd(),
    taskRoot: process.env.LAMBDA_TASK_ROOT,
    sdk: typeof LambdaClient,
    remainingMs: context.getRemainingTimeInMillis(),
    leaked: ["GATEWAY_LISTEN", "FILESYSTEM_ROOT", "LAMBDA_RUNTIME_EXECUTOR", "LAMBDA_NODE_SDK_PATH"].filter((name) => name in process.env),
  };
};
`;

    beforeAll(async () => {
      if (!availability.kind) return;
      const { default: JSZip } = await import("jszip");
      const zip = new JSZip().file("index.mjs", SOURCE);
      const { CreateFunctionCommand, waitUntilFunctionActiveV2 } = await import("@aws-sdk/client-lambda");
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: FUNCTION,
          Runtime: "nodejs24.x",
          Handler: "index.handler",
          Role: "arn:aws:iam::000000000000:role/executor-probe",
          Timeout: 2,
          Code: { ZipFile: await zip.generateAsync({ type: "uint8array" }) },
        }),
      );
      await waitUntilFunctionActiveV2({ client: lambda, maxWaitTime: 120 }, { FunctionName: FUNCTION });
    }, 180_000);

    async function call(payload: unknown) {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: FUNCTION,
          LogType: "Tail",
          Payload: new TextEncoder().encode(JSON.stringify(payload)),
        }),
      );
      return {
        error: out.FunctionError,
        body: JSON.parse(new TextDecoder().decode(out.Payload)) as Record<string, unknown>,
        log: Buffer.from(out.LogResult ?? "", "base64").toString("utf8"),
      };
    }

    it("runs the handler in its unpacked code with the runtime's AWS SDK and only the function's environment", async () => {
      const { error, body, log } = await call({ hello: "world" });
      expect(error).toBeUndefined();
      expect(body.cwd).toBe(body.taskRoot);
      expect(body.sdk).toBe("function");
      expect(body.remainingMs).toBeGreaterThan(0);
      expect(body.leaked).toEqual([]);
      expect(log).toMatch(/START RequestId: \S+ Version: \$LATEST/);
      expect(log).toMatch(/\tINFO\tevent \{"hello":"world"\}/);
      expect(log).toMatch(/END RequestId: \S+/);
      expect(log).toMatch(
        /REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB/,
      );
    });

    it("reports a handler error as the Node.js runtime does", async () => {
      const { error, body } = await call({ throw: true });
      expect(error).toBe("Unhandled");
      expect(body).toMatchObject({ errorType: "TypeError", errorMessage: "handler failed on purpose" });
    });

    it("kills the whole process tree at the timeout and starts a fresh process for the next call", async () => {
      const { mkdtemp, readFile } = await import("node:fs/promises");
      const { tmpdir } = await import("node:os");
      const pidFile = `${await mkdtemp(`${tmpdir()}/executor-probe-`)}/child.pid`;
      const { error, body, log } = await call({ hang: pidFile });
      expect(error).toBe("Unhandled");
      expect(body).toMatchObject({ errorType: "Sandbox.Timedout" });
      expect(log).toMatch(/Task timed out after 2\.00 seconds/);
      expect(log).toMatch(/Status: timeout/);
      const child = Number(await readFile(pidFile, "utf8"));
      expect(await running(child)).toBe(false);
      const next = await call({ after: "timeout" });
      expect(next.error).toBeUndefined();
      expect(next.log).toMatch(/Init Duration: [\d.]+ ms/);
    });

    it("reports a process that exits mid-invocation as Runtime.ExitError", async () => {
      const { error, body } = await call({ exit: true });
      expect(error).toBe("Unhandled");
      expect(body).toMatchObject({ errorType: "Runtime.ExitError" });
      expect((await call({ after: "exit" })).error).toBeUndefined();
    });

    it("reports an init error", async () => {
      await setEnvironmentOf(FUNCTION, { FAIL_INIT: "1" });
      const { error, body } = await call({});
      expect(error).toBe("Unhandled");
      expect(body).toMatchObject({ errorMessage: "init failed on purpose" });
    });
  });

  // The dev stage's parameters and secrets are seeded when LocalStack starts, pointing at the
  // services of whoever started it: only a LocalStack started here can point them at this run's.
  const devSkipped = availability.kind === "env";
  if (devSkipped)
    console.log("LocalStack e2e: dev stage skipped: LOCALSTACK_ENDPOINT's init hook seeded its own values");
  describe.skipIf(devSkipped)("the dev stage", () => {
    beforeAll(async () => {
      if (!availability.kind || devSkipped) return;
      await deploy("dev");
    }, DEPLOY_TIMEOUT_MS);

    it("creates every resource, with the SSM parameters and secrets resolved", async () => {
      const resources = await stackResources("dev");
      expect(resources.length).toBeGreaterThan(20);
      expect(resources.filter((r) => !deployed(r))).toEqual([]);
      const api = await lambda.send(
        new GetFunctionConfigurationCommand({ FunctionName: "payment-ledger-dev-api" }),
      );
      const env = api.Environment?.Variables ?? {};
      expect(env.JWT_JWKS_URL).toBe(issuer?.jwksUrl ?? "http://localhost/.well-known/jwks.json");
      expect(env.CORS_ALLOWED_ORIGINS).toBe("http://localhost:5173");
      // Secrets are read at run time from Secrets Manager: the configuration names them only.
      expect(env.DATABASE_URL).toBeUndefined();
      expect(env.DATABASE_SECRET_ARN).toMatch(/payment-ledger\/dev\/database/);
      expect(env.KAFKA_SASL_USERNAME).toBeUndefined();
      expect(env.KAFKA_SASL_PASSWORD).toBeUndefined();
      expect(JSON.stringify(env)).not.toContain("{{resolve:");
      expect(JSON.stringify(env)).not.toContain(stack.devFunctionDatabaseUrl);
    });

    it("keeps the functions' database secret on the pooler and migrate's on Postgres itself", async () => {
      const secrets = aws(SecretsManagerClient);
      try {
        const url = async (id: string) =>
          new URL(
            (
              JSON.parse(
                (await secrets.send(new GetSecretValueCommand({ SecretId: id }))).SecretString ?? "{}",
              ) as {
                url: string;
              }
            ).url,
          );
        const functions = await url("payment-ledger/dev/database");
        const migrations = await url("payment-ledger/dev/database-migrations");
        if (stack.poolerAddress) expect(functions.host).toBe(stack.poolerAddress);
        expect(migrations.host).not.toBe(stack.poolerAddress);
        expect(migrations.pathname).toBe(functions.pathname);
      } finally {
        secrets.destroy();
      }
      const migrate = (
        await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "payment-ledger-dev-migrate" }))
      ).Environment?.Variables;
      expect(migrate?.MIGRATION_DATABASE_SECRET_ARN).toMatch(/payment-ledger\/dev\/database-migrations/);
    });

    // migrate's configuration holds no DATABASE_URL: reaching the database proves it read the secret.
    it("migrated the dev stage's database, with the URL it read from Secrets Manager", async () => {
      const client = new pg.Client({ connectionString: stack.databaseUrl("dev") });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string }>("SELECT name FROM schema_migrations");
        expect(rows.map((r) => r.name)).toContain("1732800000000_ledger");
      } finally {
        await client.end();
      }
    });

    // The functions must reach this process's key set and this run's Postgres at host addresses.
    const rotationSkipped = availability.kind !== "host";

    /** gRPC-web clients of the dev stage's api (host mode), behind a function URL made once. */
    let devClients: Promise<PaymentClients> | undefined;
    function devApi(): Promise<PaymentClients> {
      devClients ??= (async () => {
        const name = "payment-ledger-dev-api";
        const env =
          (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }))).Environment
            ?.Variables ?? {};
        // Community LocalStack has no HTTP API (API Gateway v2). A function URL hands the function
        // the same payload 2.0 event, as the local stage's does.
        await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: "NONE" }));
        const auth = authConfig(env);
        const jwks = issuer;
        if (!jwks) throw new Error("host mode starts the dev stage's token issuer");
        return paymentClientsAt(await apiFunctionUrl(stack.endpoint, name), (subject, operator) =>
          jwks.token(auth, subject, operator),
        );
      })();
      return devClients;
    }

    if (availability.kind && !devSkipped && rotationSkipped)
      console.log(
        "LocalStack e2e: dev stage secret rotation skipped: its functions run in containers, " +
          "which cannot reach this test's token issuer (host mode only)",
      );
    /**
     * The database secret rotated while the dev stage's api is warm: the password changes in
     * Postgres and in Secrets Manager, nothing else. The api's role is one of its own (not the
     * superuser the harness uses), and its open sessions are ended, as a password change alone
     * does not end them: the warm container must log in again, is refused with the password it
     * cached, and must fetch the secret again, all without a redeploy or a configuration change.
     */
    describe.skipIf(rotationSkipped)("rotating the database secret", () => {
      const API = "payment-ledger-dev-api";
      let admin: pg.Client;
      let role: DatabaseRole;
      let secrets: SecretsManagerClient;
      let secretId: string;
      let originalSecret: string | undefined;
      let password: string;
      let cacheTtlMs: number;
      let clients: PaymentClients;
      let passwordsEnforced = false;
      const newPassword = () => `pw-${randomBytes(12).toString("hex")}`;

      const putSecret = (value: string) =>
        secrets.send(
          new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ url: value }) }),
        );
      /** Everything GetFunctionConfiguration says about the api, serialized (a redeploy or an update changes it). */
      async function apiConfiguration(): Promise<string> {
        const { $metadata: _, ...configuration } = await lambda.send(
          new GetFunctionConfigurationCommand({ FunctionName: API }),
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
        if (!availability.kind || devSkipped || rotationSkipped) return;
        const env =
          (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: API }))).Environment
            ?.Variables ?? {};
        secretId = env.DATABASE_SECRET_ARN ?? "";
        cacheTtlMs = databaseConfig(env).secret?.ttlMs ?? 0;
        admin = new pg.Client({ connectionString: stack.databaseUrl("dev") });
        await admin.connect();
        password = newPassword();
        role = await createDatabaseRole(
          admin,
          stack.databaseUrl("dev"),
          `ledger_app_${process.pid}_${Date.now().toString(36)}`,
          password,
        );
        passwordsEnforced = (await role.loginError("not-the-password")) === "28P01";
        secrets = aws(SecretsManagerClient);
        originalSecret = (await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
        // The application role's secret names Postgres itself, not the pooler: the pooler's user
        // list is its own (PgBouncer's auth file; RDS Proxy's registered secrets), and this test
        // is about the function's secret cache, not the pooler's.
        await putSecret(role.url(password));
        // The function URL, made before anything is compared.
        clients = await devApi();
      }, 120_000);

      afterAll(async () => {
        if (originalSecret)
          await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: originalSecret }));
        await role?.drop().catch((error: unknown) => console.log(`could not drop ${role.name}: ${error}`));
        await admin?.end();
        secrets?.destroy();
      });

      async function payments(owner: string) {
        const { payer, payee } = await openAccounts(owner, `payee-${ulid()}`, clients);
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

      it("keeps serving after the password is rotated: the warm container fetches the new secret, with no redeploy", async ({
        skip,
      }) => {
        requirePasswords(skip);
        const { pay, balance } = await payments(`grace-${ulid()}`);
        expect((await pay(1_000n)).status).toBe(PaymentStatus.AUTHORIZED);
        expect(await balance()).toBe(9_000n);
        const cachedSince = Date.now();
        const before = await apiConfiguration();
        // One warm container served those calls; it must be the one that serves the next.
        const environments = await executionEnvironments(stack.endpoint, API);
        expect(environments).toHaveLength(1);

        const previous = password;
        password = newPassword();
        await role.setPassword(password);
        await putSecret(role.url(password));
        // The api's pooled session survived the password change; end it, so it must log in again.
        expect(await role.terminateSessions()).toBeGreaterThan(0);
        expect(await role.loginError(previous)).toBe("28P01");

        const paid = await pay(2_500n);
        expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
        expect(await balance()).toBe(6_500n);
        const { rows } = await admin.query<{ amount: bigint; entries: number }>(
          `SELECT p.amount, (SELECT count(*)::int FROM ledger_entries e WHERE e.payment_id = p.id) AS entries
             FROM payments p WHERE p.id = $1 AND p.status = 'AUTHORIZED'`,
          [paid.paymentId],
        );
        expect(rows).toEqual([{ amount: 2_500n, entries: 2 }]);
        // Only the new password logs in, and the same container logged in: it read the new secret.
        expect(await executionEnvironments(stack.endpoint, API)).toEqual(environments);
        expect(await apiConfiguration()).toBe(before);
        // Well inside the cache's TTL: the refusal, not the TTL, made the container fetch again.
        expect(Date.now() - cachedSince).toBeLessThan(cacheTtlMs);
      }, 180_000);

      it("answers UNAVAILABLE, naming nothing of the secret, while the secret is wrong; fixing the secret heals it", async ({
        skip,
      }) => {
        requirePasswords(skip);
        const { pay, balance } = await payments(`ivan-${ulid()}`);
        const before = await apiConfiguration();
        const environments = await executionEnvironments(stack.endpoint, API);

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
          for (const secret of [wrong, password, previous, role.name, stack.databaseUrl("dev")])
            expect(seen).not.toContain(secret);
        }

        await putSecret(role.url(password));
        // Nothing was written while it failed: the same key pays now, for the first time.
        expect((await pay(300n, key)).status).toBe(PaymentStatus.AUTHORIZED);
        expect(await balance()).toBe(9_700n);
        expect(await executionEnvironments(stack.endpoint, API)).toEqual(environments);
        expect(await apiConfiguration()).toBe(before);
      }, 180_000);
    });

    // After the rotation tests: their afterAll put the seeded secret (the pooler's) back and dropped
    // their role, so the warm api is refused with the role it cached and fetches the secret again.
    it.skipIf(rotationSkipped)(
      "authorizes a payment through the dev stage's api, committed through the pooler its secret names",
      async () => {
        const clients = await devApi();
        const owner = `dev-${ulid()}`;
        const { payer, payee } = await openAccounts(owner, `dev-payee-${ulid()}`, clients);
        const paid = await clients(owner).authorizePayment({
          idempotencyKey: `dev-${ulid()}`,
          payerAccountId: payer,
          payeeAccountId: payee,
          amountCents: 500n,
          currency: "EUR",
          description: "dev stage",
        });
        expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
        const check = new pg.Client({ connectionString: stack.databaseUrl("dev") });
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
      },
      180_000,
    );
  });
});
