/** Helpers for tests of holds, captures, voids, expiry and refunds, on a ledger fixture. */
import { expect } from "vitest";
import type { Pool } from "../../lib/db/pool.ts";
import { ServiceError } from "../../lib/errors.ts";
import { toEnvelope } from "../../lib/events/envelope.ts";
import type { Account, AuthorizationResult } from "../../lib/payments/model.ts";
import { toRfc3339 } from "../../lib/time.ts";
import { type LedgerFixture, uniqueKey } from "./ledger.ts";
import { validators } from "./outbox.ts";

/** A hold of `amount` from payer to payee, through the service as the api would make it. */
export function hold(
  fx: LedgerFixture,
  payer: Account,
  payee: Account,
  amountCents: bigint,
  expiresInSeconds = 3600,
): Promise<AuthorizationResult> {
  return fx.service.authorizePayment({
    idempotencyKey: uniqueKey("hold"),
    payerAccountId: payer.accountId,
    payeeAccountId: payee.accountId,
    amountCents,
    currency: payer.currency,
    description: "hold",
    hold: { expiresInSeconds },
  });
}

/** The available (spendable) and pending (held) balance, and the posted one they add up to. */
export async function balances(fx: LedgerFixture, account: Account) {
  const balance = await fx.service.getAccountBalance(account.accountId);
  return {
    available: balance.availableCents,
    held: balance.pendingCents,
    posted: balance.availableCents + balance.pendingCents,
  };
}

/**
 * Moves a hold's expiry into the past, as time passing would: tests decide
 * when a hold is due without waiting for a clock.
 */
export async function makeDue(pool: Pool, paymentId: string): Promise<void> {
  await pool.query("UPDATE holds SET expires_at = now() - interval '1 second' WHERE payment_id = $1", [
    paymentId,
  ]);
}

/** The payment's events in creation order, each checked against its schema (schemas/). */
export async function eventsOf(pool: Pool, paymentId: string) {
  const { rows } = await pool.query<{
    id: string;
    aggregate_type: string;
    aggregate_id: string;
    event_type: string;
    payload: Record<string, unknown>;
    created_at: Date;
  }>(
    "SELECT id, aggregate_type, aggregate_id, event_type, payload, created_at FROM outbox WHERE aggregate_id = $1 ORDER BY seq",
    [paymentId],
  );
  return rows.map((row) => {
    const envelope = toEnvelope({
      id: row.id,
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      eventType: row.event_type,
      payload: row.payload,
      createdAt: toRfc3339(row.created_at),
    });
    const check = validators.event(envelope);
    if (!check.ok) throw new Error(`${row.event_type} ${row.id}: ${check.error}`);
    return { type: row.event_type, payload: row.payload };
  });
}

export async function expectServiceError(
  promise: Promise<unknown>,
  code: string,
  messagePart: string,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  expect((error as ServiceError).code).toBe(code);
  expect((error as ServiceError).message).toContain(messagePart);
}
