import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toEnvelope } from "../../lib/events/envelope.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { toRfc3339 } from "../../lib/time.ts";
import { type LedgerFixture, ledgerFixture, uniqueKey } from "../support/ledger.ts";

let fx: LedgerFixture;
const validators = createEventValidators();

beforeAll(async () => {
  fx = await ledgerFixture();
});
afterAll(async () => {
  await fx?.close();
});

interface OutboxRow {
  id: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

async function envelopeOf(paymentId: string) {
  const { rows } = await fx.pool.query<OutboxRow>(
    "SELECT id, aggregate_type, aggregate_id, event_type, payload, created_at FROM outbox WHERE aggregate_id = $1",
    [paymentId],
  );
  const row = rows[0];
  if (!row) throw new Error(`no outbox row for ${paymentId}`);
  return toEnvelope({
    id: row.id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    eventType: row.event_type,
    payload: row.payload,
    createdAt: toRfc3339(row.created_at),
  });
}

describe("outbox events match schemas/", () => {
  it("PaymentAuthorized and every kind of PaymentDeclined validate against the envelope schema", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n);
    const base = {
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 9_007_199_254_740_991n,
      currency: "EUR",
      description: "ünïcödé",
    };
    const cases = [
      { ...base, amountCents: 40n },
      base,
      { ...base, payeeAccountId: payer.accountId },
      { ...base, currency: "USD" },
      { ...base, payeeAccountId: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" },
    ];
    const seen = new Set<string>();
    for (const cmd of cases) {
      const result = await fx.service.authorizePayment({ idempotencyKey: uniqueKey(), ...cmd });
      const envelope = await envelopeOf(result.paymentId);
      expect(validators.envelope(envelope)).toEqual({ ok: true });
      expect(envelope.aggregate_id).toBe(result.paymentId);
      seen.add(`${envelope.event_type}:${String(envelope.payload.reason_code ?? "")}`);
      // Money keeps its exact value through JSON up to 2^53-1.
      expect(envelope.payload.amount_cents).toBe(Number(cmd.amountCents));
    }
    expect([...seen].sort()).toEqual([
      "PaymentAuthorized:",
      "PaymentDeclined:ACCOUNT_NOT_FOUND",
      "PaymentDeclined:CURRENCY_MISMATCH",
      "PaymentDeclined:INSUFFICIENT_FUNDS",
      "PaymentDeclined:SAME_ACCOUNT",
    ]);
  });

  it("the schemas refuse what they should: extra fields, bad ids, bad currency, wrong payload for the type", async () => {
    const payer = await fx.openFundedAccount(100n);
    const payee = await fx.openFundedAccount(0n);
    const result = await fx.service.authorizePayment({
      idempotencyKey: uniqueKey(),
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 5n,
      currency: "EUR",
      description: "",
    });
    const good = await envelopeOf(result.paymentId);
    const bad = [
      { ...good, extra: 1 },
      { ...good, event_id: "x" },
      { ...good, payload: { ...good.payload, currency: "eur" } },
      { ...good, payload: { ...good.payload, extra: true } },
      { ...good, payload: { ...good.payload, amount_cents: 0 } },
      { ...good, event_type: "PaymentDeclined" },
      { ...good, occurred_at: "yesterday" },
    ];
    for (const envelope of bad) expect(validators.envelope(envelope).ok).toBe(false);
    expect(
      validators.deadLetter({
        event_id: good.event_id,
        event: good,
        retry_count: 5,
        failed_at: good.occurred_at,
        error: "x",
      }),
    ).toEqual({ ok: true });
    expect(
      validators.deadLetter({
        event_id: good.event_id,
        event: good,
        retry_count: -1,
        failed_at: "",
        error: "",
      }).ok,
    ).toBe(false);
  });
});
