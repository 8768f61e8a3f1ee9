/**
 * Payments through the local stage deployed into LocalStack (the run's one stack,
 * tests/support/localstack-global-setup.ts): the api called through its function URL by
 * connect-web and buf curl; the event reaching Kafka through the nudge and, with the nudge off,
 * through the schedule alone, and on to the sample consumer's inbox; a poison event and a
 * failing deadLetter taking the same paths as on AWS.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { InvokeCommand } from "@aws-sdk/client-lambda";
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalToken } from "../../../lib/auth/local-token.ts";
import { authConfig } from "../../../lib/config.ts";
import { createEventValidators } from "../../../lib/events/validators.ts";
import { PaymentStatus } from "../../../lib/gen/payment/v1/payment_pb.ts";
import { PROJECT_ROOT } from "../../../tools/local-services/localstack.ts";
import type { FunctionUrlTarget } from "../../../tools/local-services/localstack-api.ts";
import {
  AUTHORIZED_TOPIC,
  consumeIntoInbox,
  DLQ_TOPIC,
  localStageApi,
  openAccounts,
  type PaymentClients,
  waitForMessage,
} from "../../support/localstack-payments.ts";
import { type LocalStackSession, openLocalStack, STACK_WAIT_MS } from "../../support/localstack-session.ts";
import { LOCAL_STAGE_AUTH_ENV, localStackAvailability } from "../../support/localstack-stack.ts";
import { insertOutboxEvents } from "../../support/outbox.ts";

const execFileAsync = promisify(execFile);
const availability = await localStackAvailability();
if (!availability.kind) console.log(`LocalStack e2e skipped: ${availability.reason}`);

// The schedule fires every minute; a generous margin for a busy machine.
const SCHEDULE_WAIT_MS = 150_000;
const fn = (name: string) => `payment-ledger-local-${name}`;

describe.skipIf(!availability.kind)("payments through the local stage in LocalStack", () => {
  let session: LocalStackSession;
  let db: pg.Pool;
  let api: FunctionUrlTarget;
  let clients: PaymentClients;

  beforeAll(async () => {
    session = await openLocalStack(["local"]);
    db = new pg.Pool({ connectionString: session.stack.databaseUrls.local, max: 2 });
    ({ target: api, clients } = await localStageApi(session));
  }, STACK_WAIT_MS);

  afterAll(async () => {
    session?.close();
    await db?.end();
  });

  const message = (topic: string, matches: Parameters<typeof waitForMessage>[2], timeoutMs: number) =>
    waitForMessage(session.stack.kafkaEnv, topic, matches, timeoutMs);

  it("authorizes a payment through the function URL with connect-web; the nudge publishes it", async () => {
    // Only the nudge can publish while the schedule is off.
    await session.setDrainSchedule("local", false);
    const owner = `alice-${ulid()}`;
    const { payer, payee } = await openAccounts(clients, owner, `bob-${ulid()}`);
    const paid = await clients(owner).authorizePayment({
      idempotencyKey: `connect-web-${ulid()}`,
      payerAccountId: payer,
      payeeAccountId: payee,
      amountCents: 1_250n,
      currency: "EUR",
      description: "coffee",
    });
    expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
    const published = await message(AUTHORIZED_TOPIC, (m) => m.key === paid.paymentId, 60_000);
    expect(createEventValidators().event(JSON.parse(published.value))).toMatchObject({ ok: true });
    // And on to a consumer: the sample consumer's inbox records it.
    await consumeIntoInbox(session.stack.kafkaEnv, db, AUTHORIZED_TOPIC, published.headers.event_id ?? "");
  });

  it("authorizes a payment through the function URL with buf curl", async () => {
    const owner = `carol-${ulid()}`;
    const { payer, payee } = await openAccounts(clients, owner, `dave-${ulid()}`);
    const token = await signLocalToken(authConfig(LOCAL_STAGE_AUTH_ENV), { subject: owner });
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
      await session.setEnvironment(fn("api"), { OUTBOX_NUDGE_ENABLED: "false" });
      await session.setDrainSchedule("local", true);
      try {
        const owner = `erin-${ulid()}`;
        const { payer, payee } = await openAccounts(clients, owner, `frank-${ulid()}`);
        const paid = await clients(owner).authorizePayment({
          idempotencyKey: `schedule-${ulid()}`,
          payerAccountId: payer,
          payeeAccountId: payee,
          amountCents: 300n,
          currency: "EUR",
          description: "by schedule",
        });
        expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
        await message(AUTHORIZED_TOPIC, (m) => m.key === paid.paymentId, SCHEDULE_WAIT_MS);
      } finally {
        await session.setEnvironment(fn("api"), { OUTBOX_NUDGE_ENABLED: "true" });
      }
    },
    SCHEDULE_WAIT_MS + 60_000,
  );

  it("sends a poison event through deadLetter to payments.dlq", async () => {
    const aggregateId = ulid();
    // Fails the envelope schema: the drain dead-letters it at once.
    const [eventId] = await insertOutboxEvents(db, [{ aggregateId, payload: { payment_id: aggregateId } }]);
    // (A scheduled drain may take it first: either way it must end on the DLQ.)
    await session.invoke(fn("drainOutbox"), { source: "aws.events" });
    const dead = await message(DLQ_TOPIC, (m) => m.value.includes(eventId ?? "-"), 60_000);
    expect(createEventValidators().deadLetter(JSON.parse(dead.value))).toMatchObject({ ok: true });
    const { rows } = await db.query("SELECT published_at FROM dead_letters WHERE event_id = $1", [eventId]);
    expect(rows[0]?.published_at).toBeInstanceOf(Date);
  });

  it("puts a deadLetter invocation that keeps failing into the on-failure queue", async () => {
    // A broker nobody listens on: deadLetter records the event, fails, is retried twice, gives up.
    const before = await session.environment(fn("deadLetter"));
    await session.setEnvironment(fn("deadLetter"), { KAFKA_BROKERS: "127.0.0.1:9", KAFKA_RETRIES: "0" });
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
      await session.lambda.send(
        new InvokeCommand({
          FunctionName: fn("deadLetter"),
          InvocationType: "Event",
          Payload: new TextEncoder().encode(JSON.stringify(envelope)),
        }),
      );
      const sqs = session.aws(SQSClient);
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
      await session.setEnvironment(fn("deadLetter"), {
        KAFKA_BROKERS: before.KAFKA_BROKERS ?? "",
        KAFKA_RETRIES: before.KAFKA_RETRIES ?? "3",
      });
    }
  }, 300_000);
});
