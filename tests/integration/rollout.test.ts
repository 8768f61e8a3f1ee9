/**
 * A release rolls out migrate first (scripts/deploy.sh): for a while the
 * previous release's api and drain run against this release's database.
 * The previous api calls authorize_payment positionally (021's shim), which
 * writes the previous release's event shape, the one its drain accepts; this
 * release's drain reads that shape into the contract. Whichever drain sends
 * such an event, it arrives valid: the previous api's payments cross the
 * rollout whole.
 */
import { describe, expect, it } from "vitest";
import { newId } from "../../lib/ids.ts";
import { eventTopics } from "../../lib/kafka/messages.ts";
import { brokenInvariants, checkInvariantsAfterEach } from "../support/invariants.ts";
import { createTopics, readTopics, uniqueTopicPrefix } from "../support/kafka-topics.ts";
import { uniqueKey } from "../support/ledger.ts";
import { oldEventErrors } from "../support/old-contract.ts";
import { drainWithDeadLetters, outboxTestContext, validators } from "../support/outbox.ts";

const ctx = outboxTestContext();
checkInvariantsAfterEach(() => ctx.fx?.pool);

// The previous release's store, verbatim: twelve positional arguments.
const PREVIOUS_AUTHORIZE_SQL = `
  SELECT outcome, payment_id, status, error_code, error_message, processed_at
  FROM authorize_payment($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, make_interval(secs => $12))`;

// The previous release's payloads (its schemas/payment_authorized.json and
// payment_declined.json: every field required, no other allowed), and its
// aggregate_type: what its drain accepts.
const PREVIOUS_AUTHORIZED_FIELDS = [
  "amount_cents",
  "authorized_at",
  "currency",
  "description",
  "payee_account_id",
  "payer_account_id",
  "payment_id",
];
const PREVIOUS_DECLINED_FIELDS = [
  "amount_cents",
  "currency",
  "declined_at",
  "payee_account_id",
  "payer_account_id",
  "payment_id",
  "reason",
  "reason_code",
];
const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function previousApiPays(payer: string, payee: string, amount: bigint, key = uniqueKey("prev")) {
  const { rows } = await ctx.fx.pool.query<{ outcome: string; payment_id: string; status: string }>(
    PREVIOUS_AUTHORIZE_SQL,
    [
      newId(),
      newId(),
      newId(),
      newId(),
      key,
      "hash",
      payer,
      payee,
      amount.toString(),
      "EUR",
      "old api",
      86_400,
    ],
  );
  const row = rows[0];
  if (!row) throw new Error("no row");
  return { ...row, key };
}

async function storedRow(paymentId: string) {
  const { rows } = await ctx.fx.pool.query<{
    aggregate_type: string;
    event_type: string;
    payload: Record<string, unknown>;
  }>("SELECT aggregate_type, event_type, payload FROM outbox WHERE aggregate_id = $1", [paymentId]);
  return rows;
}

describe("the previous release's api against this release's database", () => {
  it("pays through the shim in the previous event shape, replays by the payer owner's key, and this release's drain sends it valid", async () => {
    const payer = await ctx.fx.openFundedAccount(100n, "EUR", "carol");
    const payee = await ctx.fx.openFundedAccount(0n, "EUR", "dave");

    const paid = await previousApiPays(payer.accountId, payee.accountId, 60n);
    expect(paid).toMatchObject({ outcome: "NEW", status: "AUTHORIZED" });
    const declined = await previousApiPays(payer.accountId, payee.accountId, 60n);
    expect(declined).toMatchObject({ outcome: "NEW", status: "DECLINED" });
    // Keys are the payer account owner's: the same key again replays.
    const replay = await previousApiPays(payer.accountId, payee.accountId, 60n, paid.key);
    expect(replay).toMatchObject({ outcome: "REPLAY", payment_id: paid.payment_id });

    // What the previous release's drain accepts: its aggregate type, its payload fields.
    const [authorizedRow] = await storedRow(paid.payment_id);
    expect(authorizedRow?.aggregate_type).toBe("payment");
    expect(authorizedRow?.event_type).toBe("PaymentAuthorized");
    expect(Object.keys(authorizedRow?.payload ?? {}).sort()).toEqual(PREVIOUS_AUTHORIZED_FIELDS);
    expect(authorizedRow?.payload.authorized_at).toMatch(RFC3339_UTC);
    const [declinedRow] = await storedRow(declined.payment_id);
    expect(declinedRow?.aggregate_type).toBe("payment");
    expect(declinedRow?.event_type).toBe("PaymentDeclined");
    expect(Object.keys(declinedRow?.payload ?? {}).sort()).toEqual(PREVIOUS_DECLINED_FIELDS);
    expect(declinedRow?.payload).toMatchObject({
      reason_code: "INSUFFICIENT_FUNDS",
      reason: "payer account has insufficient funds",
    });

    // This release's drain sends both in the contract.
    const prefix = uniqueTopicPrefix();
    const { drain, dlqTopic } = drainWithDeadLetters(ctx, prefix);
    const topics = [...eventTopics(prefix), dlqTopic];
    await createTopics(ctx.kafka, topics);
    const summary = await drain.run();
    expect(summary).toMatchObject({ deadLettered: 0, retried: 0 });
    const messages = await readTopics(ctx.kafka, topics);
    expect(messages.filter((m) => m.topic === dlqTopic)).toEqual([]);
    for (const paymentId of [paid.payment_id, declined.payment_id]) {
      const sent = messages.filter((m) => m.key === paymentId);
      expect(sent).toHaveLength(1);
      const event = JSON.parse(sent[0]?.value ?? "{}") as Record<string, unknown>;
      expect(oldEventErrors(event), sent[0]?.value).toEqual([]);
      expect(validators.event(event), sent[0]?.value).toMatchObject({ ok: true });
      expect(event.aggregate_type).toBe("Payment");
    }
    expect(await brokenInvariants(ctx.fx.pool)).toEqual({});
  });

  it("this release's api writes the contract's shape through the named-argument signature", async () => {
    const payer = await ctx.fx.openFundedAccount(100n, "EUR", "erin");
    const payee = await ctx.fx.openFundedAccount(0n, "EUR", "frank");
    const result = await ctx.fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 10n,
      currency: "EUR",
      description: "",
    });
    const [row] = await storedRow(result.paymentId);
    expect(row?.aggregate_type).toBe("Payment");
    expect(row?.payload).not.toHaveProperty("authorized_at");
  });
});
