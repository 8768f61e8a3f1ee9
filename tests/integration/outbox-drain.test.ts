import { describe, expect, it } from "vitest";
import { AsyncLambdaInvoker } from "../../lib/aws/lambda-invoker.ts";
import { LambdaDeadLetterInvoker } from "../../lib/dead-letters/invoker.ts";
import { newId } from "../../lib/ids.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import type { Account } from "../../lib/payments/model.ts";
import { createLedgerTopics, createTopics, readTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { startLambdaInvokeServer } from "../support/lambda-invoke-server.ts";
import { uniqueKey } from "../support/ledger.ts";
import {
  authorizedPayload,
  deadLetterService,
  drainSettings,
  drainWithDeadLetters,
  InProcessDeadLetters,
  insertOutboxEvents,
  ManualClock,
  outboxRows,
  outboxTestContext,
  testDrain,
  validators,
} from "../support/outbox.ts";

const ctx = outboxTestContext();

/** Deletes what earlier tests in this file left in the outbox, so each test sees only its own events. */
async function emptyOutbox(): Promise<void> {
  await ctx.fx.pool.query("DELETE FROM outbox");
  await ctx.fx.pool.query("DELETE FROM dead_letters");
}

function topicsOf(prefix: string): { authorized: string; declined: string; dlq: string } {
  return {
    authorized: topicFor(prefix, "PaymentAuthorized"),
    declined: topicFor(prefix, "PaymentDeclined"),
    dlq: `${prefix}.dlq`,
  };
}

describe("drainOutbox publish path", () => {
  it("publishes every committed payment event once, keyed by aggregate, with headers, on its topic", async () => {
    await emptyOutbox();
    const prefix = uniqueTopicPrefix();
    const topics = topicsOf(prefix);
    await createTopics(ctx.kafka, [topics.authorized, topics.declined, topics.dlq]);

    const alice: Account = await ctx.fx.openFundedAccount(1_000n, "EUR", "alice");
    const bob: Account = await ctx.fx.openFundedAccount(0n, "EUR", "bob");
    for (let i = 0; i < 12; i += 1) {
      // Every fourth one overdraws alice: declined, and still an event.
      const amount = i % 4 === 3 ? 1_000_000n : 10n;
      await ctx.fx.service.authorizePayment({
        idempotencyKey: uniqueKey("pub"),
        payerAccountId: alice.accountId,
        payeeAccountId: bob.accountId,
        amountCents: amount,
        currency: "EUR",
        description: `payment ${i}`,
      });
    }
    const expected = await ctx.fx.pool.query<{
      id: string;
      aggregate_id: string;
      event_type: string;
      payload: Record<string, unknown>;
    }>("SELECT id, aggregate_id, event_type, payload FROM outbox ORDER BY seq");
    expect(expected.rows.filter((r) => r.event_type === "PaymentDeclined")).toHaveLength(3);

    const { service, publisher: dlqPublisher } = deadLetterService(ctx.fx.pool, ctx.kafkaEnv, topics.dlq);
    const deadLetters = new InProcessDeadLetters(service);
    const { drain, publisher } = testDrain({
      pool: ctx.fx.pool,
      kafka: ctx.kafkaEnv,
      settings: drainSettings(prefix, { batchSize: 5 }),
      deadLetters,
    });
    ctx.closers.push(
      () => publisher.close(),
      () => dlqPublisher.close(),
    );

    const summary = await drain.run();
    expect(summary).toMatchObject({
      claimed: expected.rows.length,
      published: expected.rows.length,
      retried: 0,
      deadLettered: 0,
      stoppedBy: "drained",
      lagMs: 0,
    });
    expect(summary.batches).toBe(Math.ceil(expected.rows.length / 5));
    expect(
      (await outboxRows(ctx.fx.pool)).every((r) => r.published_at !== null && r.claimed_by === null),
    ).toBe(true);

    const messages = await readTopics(ctx.kafka, [topics.authorized, topics.declined, topics.dlq]);
    expect(messages.map((m) => m.headers.event_id).sort()).toEqual(expected.rows.map((r) => r.id).sort());
    for (const row of expected.rows) {
      const message = messages.find((m) => m.headers.event_id === row.id);
      if (!message) throw new Error(`event ${row.id} not on Kafka`);
      const envelope = JSON.parse(message.value);
      expect(validators.event(envelope)).toMatchObject({ ok: true });
      expect(message.topic).toBe(
        row.event_type === "PaymentAuthorized" ? topics.authorized : topics.declined,
      );
      expect(message.key).toBe(row.aggregate_id);
      expect(message.headers).toEqual({
        event_id: row.id,
        event_type: row.event_type,
        schema: row.event_type === "PaymentAuthorized" ? "payment_authorized" : "payment_declined",
        // Paid in-process without a trace: each event starts one of its own.
        traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
      });
      // Exactly the envelope's six fields: anything more goes in headers.
      expect(envelope).toEqual({
        event_id: row.id,
        aggregate_type: "Payment",
        aggregate_id: row.aggregate_id,
        event_type: row.event_type,
        payload: row.payload,
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
    }

    // Nothing is due any more: a second run claims nothing and sends nothing.
    expect(await drain.run()).toMatchObject({ claimed: 0, published: 0, stoppedBy: "drained" });
    expect(await readTopics(ctx.kafka, [topics.authorized, topics.declined])).toHaveLength(
      expected.rows.length,
    );
  });

  it("stops when the remaining Lambda time is below the margin, leaving events for the next run", async () => {
    await emptyOutbox();
    const prefix = uniqueTopicPrefix();
    await createLedgerTopics(ctx.kafkaEnv, prefix);
    await insertOutboxEvents(
      ctx.fx.pool,
      Array.from({ length: 4 }, () => ({ aggregateId: newId() })),
    );
    const { drain } = drainWithDeadLetters(ctx, prefix, {
      settings: drainSettings(prefix, { batchSize: 2, timeMarginMs: 5_000 }),
    });
    // One batch fits in the budget, then the remaining time falls below the margin. The run asks
    // before each claim and again when the claim is back, before it sends: twice for the first batch.
    const remaining = [20_000, 20_000, 4_000];
    const summary = await drain.run({ remainingMs: () => remaining.shift() ?? 0 });
    expect(summary).toMatchObject({ batches: 1, published: 2, stoppedBy: "time" });
    expect(summary.lagMs).toBeGreaterThanOrEqual(0);
    expect((await outboxRows(ctx.fx.pool)).filter((r) => r.published_at === null)).toHaveLength(2);
    expect(await drain.run()).toMatchObject({ published: 2, stoppedBy: "drained", lagMs: 0 });
  });
});

describe("event-specific failures", () => {
  it("backs off a rejected event, honours its next attempt time, holds back only its aggregate, then dead-letters it", async () => {
    await emptyOutbox();
    const prefix = uniqueTopicPrefix();
    const topics = topicsOf(prefix);
    // A topic that takes ordinary events but not one with a 500-emoji description (~2.4 kB).
    await createTopics(ctx.kafka, [topics.authorized], {
      configEntries: [{ name: "max.message.bytes", value: "1800" }],
    });
    await createTopics(ctx.kafka, [topics.dlq]);

    const stuck = newId();
    const others = [newId(), newId(), newId()];
    const ids = await insertOutboxEvents(ctx.fx.pool, [
      { aggregateId: stuck, payload: authorizedPayload(stuck, "😀".repeat(500)) },
      { aggregateId: others[0] as string },
      { aggregateId: stuck },
      { aggregateId: others[1] as string },
      { aggregateId: others[2] as string },
    ]);
    const [tooLarge, , heldBack] = ids as [string, string, string, string, string];

    const clock = new ManualClock();
    const { service, publisher: dlqPublisher } = deadLetterService(
      ctx.fx.pool,
      ctx.kafkaEnv,
      topics.dlq,
      clock,
    );
    const deadLetters = new InProcessDeadLetters(service);
    const { drain, publisher } = testDrain({
      pool: ctx.fx.pool,
      kafka: ctx.kafkaEnv,
      clock,
      deadLetters,
      settings: drainSettings(prefix, { maxAttempts: 3, backoffBaseMs: 60_000, backoffMaxMs: 600_000 }),
    });
    ctx.closers.push(
      () => publisher.close(),
      () => dlqPublisher.close(),
    );

    const first = await drain.run();
    expect(first).toMatchObject({ claimed: 5, published: 3, retried: 1, released: 1, deadLettered: 0 });
    const row = async (id: string) => (await outboxRows(ctx.fx.pool)).find((r) => r.id === id);
    let failed = await row(tooLarge);
    expect(failed).toMatchObject({ attempts: 1, published_at: null, claimed_by: null });
    expect(failed?.last_error).toContain("MESSAGE_TOO_LARGE");
    // Equal jitter: between half and all of the nominal 60 s.
    const delay = (failed?.next_attempt_at.getTime() ?? 0) - clock.now().getTime();
    expect(delay).toBeGreaterThanOrEqual(30_000);
    expect(delay).toBeLessThanOrEqual(60_000);
    expect(await row(heldBack)).toMatchObject({ attempts: 0, published_at: null, claimed_by: null });

    for (let attempt = 2; attempt <= 3; attempt += 1) {
      const due = failed?.next_attempt_at as Date;
      // Just before its time: neither the failed event nor its successor is claimed.
      clock.set(new Date(due.getTime() - 1));
      expect(await drain.run()).toMatchObject({ claimed: 0, published: 0 });
      expect(await row(tooLarge)).toMatchObject({ attempts: attempt - 1 });

      clock.set(due);
      const retry = await drain.run();
      failed = await row(tooLarge);
      if (attempt < 3) {
        // Its successor is claimed with it and released again behind it.
        expect(retry).toMatchObject({ claimed: 2, published: 0, retried: 1, released: 1 });
        expect(failed).toMatchObject({ attempts: attempt, dead_lettered_at: null });
      } else {
        // Attempts used up: dead-lettered, and the held-back event goes out right behind it.
        expect(retry).toMatchObject({ published: 1, retried: 0, deadLettered: 1 });
        expect(failed?.attempts).toBe(3);
        expect(failed?.dead_lettered_at).not.toBeNull();
      }
    }
    expect(await row(heldBack)).toMatchObject({ attempts: 0 });
    expect((await row(heldBack))?.published_at).not.toBeNull();

    // Kafka rejects a whole request for one bad record but may have appended
    // the request's other partitions; re-sending those while isolating the
    // culprit can duplicate them (consumers dedupe by event id). Never lost.
    const messages = await readTopics(ctx.kafka, [topics.authorized]);
    expect([...new Set(messages.map((m) => m.headers.event_id))].sort()).toEqual(
      ids.filter((id) => id !== tooLarge).sort(),
    );
    const dlq = await readTopics(ctx.kafka, [topics.dlq]);
    expect(dlq).toHaveLength(1);
    const dead = JSON.parse(dlq[0]?.value ?? "{}");
    expect(validators.deadLetter(dead)).toMatchObject({ ok: true });
    expect(dead).toMatchObject({ event_id: tooLarge, retry_count: 3 });
    expect(dead.error).toContain("MESSAGE_TOO_LARGE");
    expect(deadLetters.handedOver).toHaveLength(1);
  });
});

describe("poison events", () => {
  it("dead-letters an invalid event through a real Lambda Invoke call, onto the DLQ, once", async () => {
    await emptyOutbox();
    const prefix = uniqueTopicPrefix();
    const topics = topicsOf(prefix);
    await createTopics(ctx.kafka, [topics.authorized, topics.dlq]);

    const { service, publisher: dlqPublisher } = deadLetterService(ctx.fx.pool, ctx.kafkaEnv, topics.dlq);
    const server = await startLambdaInvokeServer({
      "ledger-test-deadLetter": (payload) => service.handle(payload),
    });
    const lambda = new AsyncLambdaInvoker(
      { region: "us-east-1", endpoint: server.endpoint },
      { accessKeyId: "test", secretAccessKey: "test" },
    );
    const invoker = new LambdaDeadLetterInvoker(lambda, "ledger-test-deadLetter");
    const { drain, publisher } = testDrain({
      pool: ctx.fx.pool,
      kafka: ctx.kafkaEnv,
      settings: drainSettings(prefix),
      deadLetters: invoker,
    });
    ctx.closers.push(
      () => publisher.close(),
      () => dlqPublisher.close(),
      () => server.close(),
      async () => lambda.close(),
    );

    const aggregate = newId();
    const payload = { ...authorizedPayload(aggregate), amount_cents: -5 };
    const [poison, next] = (await insertOutboxEvents(ctx.fx.pool, [
      { aggregateId: aggregate, payload },
      { aggregateId: aggregate },
    ])) as [string, string];

    const summary = await drain.run();
    await server.idle();
    // The outbox row's last_error says why, should the hand-off have failed.
    const why = JSON.stringify({
      errors: (await outboxRows(ctx.fx.pool)).map((r) => r.last_error),
      failures: server.failures.map(String),
    });
    expect(summary, why).toMatchObject({ claimed: 2, published: 1, deadLettered: 1, retried: 0 });
    expect(server.failures).toEqual([]);
    expect(server.invocations).toEqual([
      expect.objectContaining({ functionName: "ledger-test-deadLetter", invocationType: "Event" }),
    ]);

    const rows = await outboxRows(ctx.fx.pool);
    expect(rows.find((r) => r.id === poison)?.dead_lettered_at).not.toBeNull();
    expect(rows.find((r) => r.id === next)?.published_at).not.toBeNull();

    const recorded = await ctx.fx.pool.query(
      "SELECT event_id, retry_count, error, published_at FROM dead_letters",
    );
    expect(recorded.rows).toHaveLength(1);
    expect(recorded.rows[0]).toMatchObject({ event_id: poison, retry_count: 0 });
    expect(recorded.rows[0].error).toContain("/payload/amount_cents");
    expect(recorded.rows[0].published_at).not.toBeNull();

    const dlq = await readTopics(ctx.kafka, [topics.dlq]);
    expect(dlq).toHaveLength(1);
    const message = dlq[0];
    expect(message?.key).toBe(aggregate);
    expect(message?.headers).toEqual({
      event_id: poison,
      event_type: "PaymentAuthorized",
      schema: "dead_letter",
      traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
    });
    const letter = JSON.parse(message?.value ?? "{}");
    expect(validators.deadLetter(letter)).toMatchObject({ ok: true });
    // Flat, the event as it was stored: its payload is why it is dead.
    expect(letter).toMatchObject({
      event_id: poison,
      aggregate_type: "Payment",
      aggregate_id: aggregate,
      event_type: "PaymentAuthorized",
      payload,
      retry_count: 0,
    });

    // The same hand-off again (Lambda delivers async events at least once): nothing changes.
    await invoker.deadLetter(letter);
    await server.idle();
    expect(server.invocations).toHaveLength(2);
    expect(server.failures).toEqual([]);
    expect((await ctx.fx.pool.query("SELECT count(*)::int AS n FROM dead_letters")).rows[0].n).toBe(1);
    expect(await readTopics(ctx.kafka, [topics.dlq])).toHaveLength(1);
    expect((await readTopics(ctx.kafka, [topics.authorized])).map((m) => m.headers.event_id)).toEqual([next]);
  });
});
