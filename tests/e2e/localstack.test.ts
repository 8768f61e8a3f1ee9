/**
 * The stack deployed into LocalStack with the documented script
 * (localstack/deploy.sh: `serverless deploy` through AWS_ENDPOINT_URL, then
 * the migrate function), next to Postgres and Redpanda containers on one
 * Docker network. A small flow then runs through the deployed functions:
 * the api (invoked with an HTTP API v2 event, since the community image has
 * no API Gateway v2) opens and funds an account, and drainOutbox publishes
 * the event to Redpanda.
 *
 * Needs a Docker daemon; without one the suite is skipped and says why. The
 * containers come from tools/local-services/localstack.ts.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig } from "../../lib/config.ts";
import { PaymentEventType } from "../../lib/events/types.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import {
  AuthorizePaymentRequestSchema,
  AuthorizePaymentResponseSchema,
  CreateAccountRequestSchema,
  CreateAccountResponseSchema,
  PaymentStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import { dockerStatus } from "../../tools/local-services/docker.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../../tools/local-services/grpc-web-events.ts";
import { type LocalStackServices, startLocalStackServices } from "../../tools/local-services/localstack.ts";
import { DUMMY_AWS_ENV, PROJECT_ROOT } from "../../tools/local-services/offline.ts";
import { createTopics, readTopics, testKafka } from "../support/kafka-topics.ts";

const execFileAsync = promisify(execFile);
const docker = await dockerStatus();
if (!docker.available) console.log(`LocalStack e2e skipped: ${docker.reason}`);

const AUTH_ENV = {
  JWT_SECRET: "localstack-e2e-secret-0123456789abcdef",
  JWT_ISSUER: "https://issuer.localstack.test",
  JWT_AUDIENCE: "payment-ledger-localstack",
};
const AUTHORIZED_TOPIC = topicFor("payments", PaymentEventType.Authorized);

describe.skipIf(!docker.available)("deployed into LocalStack", () => {
  let services: LocalStackServices;
  let postgres: LocalStackServices["postgres"];
  let localstack: LocalStackServices["localstack"];
  let lambda: LambdaClient;
  let kafkaBrokers: string[];

  beforeAll(async () => {
    services = await startLocalStackServices();
    ({ postgres, localstack, kafkaBrokers } = services);
    await createTopics(testKafka(kafkaBrokers), [AUTHORIZED_TOPIC], { partitions: 1 });

    // The documented path: localstack/deploy.sh deploys the local stage and invokes migrate.
    await execFileAsync("sh", ["localstack/deploy.sh", "local"], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        ...AUTH_ENV,
        LOCALSTACK_PORT: String(localstack.getPort()),
        OUTBOX_NUDGE_ENABLED: "false",
        ESBUILD_WORK_FOLDER: `.esbuild/localstack-${process.pid}`,
      },
      maxBuffer: 32 * 1024 * 1024,
    });
    lambda = new LambdaClient({
      endpoint: localstack.getConnectionUri(),
      region: DUMMY_AWS_ENV.AWS_REGION,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  }, 900_000);

  afterAll(async () => {
    lambda?.destroy();
    await services?.stop();
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

  async function rpc(method: string, body: Uint8Array, subject: string): Promise<Uint8Array> {
    const token = await signLocalToken(authConfig(AUTH_ENV), { subject, operator: true });
    const event = grpcWebEvent(`/payment.v1.PaymentService/${method}`, {
      body: frame(body),
      headers: { authorization: `Bearer ${token}` },
    });
    const outcome = readGrpcWeb((await invoke("api", event)) as APIGatewayProxyStructuredResultV2);
    expect(outcome.code, outcome.message).toBe(0);
    const message = outcome.messages[0];
    if (!message) throw new Error(`${method}: no response message`);
    return message;
  }

  it("migrated the database during the deploy", async () => {
    const client = new pg.Client({ connectionString: postgres.getConnectionUri() });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>("SELECT name FROM schema_migrations");
      expect(rows.map((r) => r.name)).toContain("1732800000000_ledger");
    } finally {
      await client.end();
    }
  });

  it("funds an account through the api function and publishes the event through drainOutbox", async () => {
    const open = async (owner: string, system: boolean) =>
      fromBinary(
        CreateAccountResponseSchema,
        await rpc(
          "CreateAccount",
          toBinary(
            CreateAccountRequestSchema,
            create(CreateAccountRequestSchema, { owner, currency: "EUR", system }),
          ),
          "ops",
        ),
      ).account?.accountId ?? "";
    const treasury = await open("treasury", true);
    const alice = await open("alice", false);
    const funded = fromBinary(
      AuthorizePaymentResponseSchema,
      await rpc(
        "AuthorizePayment",
        toBinary(
          AuthorizePaymentRequestSchema,
          create(AuthorizePaymentRequestSchema, {
            idempotencyKey: "localstack-fund",
            payerAccountId: treasury,
            payeeAccountId: alice,
            amountCents: 5_000n,
            currency: "EUR",
            description: "funding",
          }),
        ),
        "ops",
      ),
    );
    expect(funded.status).toBe(PaymentStatus.AUTHORIZED);

    const summary = (await invoke("drainOutbox", { source: "aws.events" })) as Record<string, unknown>;
    expect(summary).toMatchObject({ published: 1, deadLettered: 0 });
    const messages = await readTopics(testKafka(kafkaBrokers), [AUTHORIZED_TOPIC]);
    expect(messages.map((m) => m.key)).toEqual([funded.paymentId]);
    expect(createEventValidators().envelope(JSON.parse(messages[0]?.value ?? "{}"))).toEqual({ ok: true });
  });
});
