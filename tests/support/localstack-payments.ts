/**
 * Payments through a stage deployed into LocalStack: gRPC-web clients of its api behind a function
 * URL, funded accounts to pay from, and what the payment became on the other side (a Kafka
 * message, the sample consumer's inbox row).
 */
import {
  CreateFunctionUrlConfigCommand,
  GetFunctionUrlConfigCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-lambda";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type pg from "pg";
import { ulid } from "ulid";
import { expect } from "vitest";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig } from "../../lib/config.ts";
import { InboxProcessor } from "../../lib/consumer/inbox.ts";
import { startInboxConsumer } from "../../lib/consumer/run.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { PaymentService, PaymentStatus } from "../../lib/gen/payment/v1/payment_pb.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import type { KafkaClientEnv } from "../../tools/local-services/kafka.ts";
import {
  apiFunctionUrl,
  type FunctionUrlTarget,
  fetchWithHost,
} from "../../tools/local-services/localstack-api.ts";
import { issuerSigner } from "./jwks-issuer.ts";
import { type ReceivedMessage, readTopics, testKafka } from "./kafka-topics.ts";
import type { LocalStackSession } from "./localstack-session.ts";
import { LOCAL_STAGE_AUTH_ENV } from "./localstack-stack.ts";

export const AUTHORIZED_TOPIC = topicFor("payments", "PaymentAuthorized");
export const DECLINED_TOPIC = topicFor("payments", "PaymentDeclined");
export const DLQ_TOPIC = "payments.dlq";

/** The api's clients, one per caller (subject, operator or not). */
export type PaymentClients = (subject: string, operator?: boolean) => Client<typeof PaymentService>;

/** gRPC-web clients of the api behind `target`, each sending the token `token` makes for its caller. */
export function paymentClientsAt(
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

/** The local stage's api (the function URL its deploy made), with tokens signed by its JWT_SECRET. */
export async function localStageApi(
  session: LocalStackSession,
): Promise<{ target: FunctionUrlTarget; clients: PaymentClients }> {
  const target = await apiFunctionUrl(session.stack.endpoint);
  const auth = authConfig(LOCAL_STAGE_AUTH_ENV);
  return {
    target,
    clients: paymentClientsAt(target, (subject, operator) => signLocalToken(auth, { subject, operator })),
  };
}

export const DEV_API = "payment-ledger-dev-api";

/**
 * The dev stage's api (host mode: its functions reach the keeper's token issuer), behind a
 * function URL made the first time a file asks: community LocalStack has no HTTP API (API
 * Gateway v2), and a function URL hands the function the same payload 2.0 event.
 */
export async function devStageApi(session: LocalStackSession): Promise<PaymentClients> {
  const issuer = session.stack.devIssuer;
  if (!issuer) throw new Error("host mode starts the dev stage's token issuer");
  try {
    await session.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: DEV_API }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    await session.lambda.send(
      new CreateFunctionUrlConfigCommand({ FunctionName: DEV_API, AuthType: "NONE" }),
    );
  }
  const auth = authConfig(await session.environment(DEV_API));
  const sign = issuerSigner(issuer.privateJwk);
  return paymentClientsAt(await apiFunctionUrl(session.stack.endpoint, DEV_API), (subject, operator) =>
    sign(auth, subject, operator),
  );
}

/** A funded EUR account of `owner` and an empty one of `payee`, opened and funded by an operator. */
export async function openAccounts(
  clients: PaymentClients,
  owner: string,
  payee: string,
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

/** The first message on `topic` that `matches`, read from the beginning again every 2 s. */
export async function waitForMessage(
  kafkaEnv: KafkaClientEnv,
  topic: string,
  matches: (message: ReceivedMessage) => boolean,
  timeoutMs: number,
): Promise<ReceivedMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await readTopics(testKafka(kafkaEnv), [topic])).find(matches);
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(`no matching message on ${topic} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

/**
 * The sample consumer, run with `kafkaEnv`'s login into the inbox of the database `pool`
 * reaches, until it has recorded the event `eventId` of `topic`.
 */
export async function consumeIntoInbox(
  kafkaEnv: KafkaClientEnv,
  pool: pg.Pool,
  topic: string,
  eventId: string,
): Promise<void> {
  const consumerGroup = `localstack-e2e-${ulid()}`;
  const consumer = await startInboxConsumer({
    kafka: testKafka(kafkaEnv),
    groupId: consumerGroup,
    topics: [topic],
    processor: new InboxProcessor({
      pool,
      consumer: consumerGroup,
      validators: createEventValidators(),
      topics: { prefix: "payments", dlq: DLQ_TOPIC },
      effect: async () => {},
    }),
    fromBeginning: true,
  });
  try {
    for (;;) {
      const { rows } = await pool.query("SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2", [
        consumerGroup,
        eventId,
      ]);
      if (rows.length === 1) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await consumer.disconnect();
  }
}
