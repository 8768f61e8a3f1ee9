import type { Pool } from "../lib/db/pool.ts";
import type { PaymentAuthorizedPayload } from "../lib/events/contract.ts";
import { newId } from "../lib/ids.ts";
import { formatTraceparent, newTrace } from "../lib/observability/trace-context.ts";

/** A payload like authorize_payment's, so raw messages and filled rows have the drain's message size. */
export function benchPayload(id: string): PaymentAuthorizedPayload {
  return {
    payment_id: id,
    payer_account_id: newId(),
    payee_account_id: newId(),
    amount_cents: 1250,
    currency: "EUR",
    description: "bench payment",
  };
}

/**
 * Fills the outbox as committed payments would: one PaymentAuthorized event
 * per payment, keyed by the payment its payload names, each with its
 * payment's trace, as authorize_payment writes them. Then VACUUM ANALYZE, so
 * every run starts from the same table state.
 */
export async function fillOutbox(pool: Pool, count: number): Promise<void> {
  const chunk = 10_000;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    const payments = Array.from({ length: n }, () => newId());
    const payloads = payments.map((id) => JSON.stringify(benchPayload(id)));
    await pool.query(
      `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, traceparent)
       SELECT e.id, 'Payment', e.aggregate_id, 'PaymentAuthorized', e.payload, e.traceparent
       FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::text[])
         WITH ORDINALITY AS e(id, payload, traceparent, aggregate_id, n) ORDER BY n`,
      [payments.map(() => newId()), payloads, payments.map(() => formatTraceparent(newTrace())), payments],
    );
  }
  await pool.query("VACUUM ANALYZE outbox");
}
