import type { Pool } from "../../lib/db/pool.ts";
import { PAYMENT_AGGREGATE_TYPE, PaymentEventType } from "../../lib/events/types.ts";

/**
 * The ledger's invariants, checked in SQL against what was actually
 * committed. Each query returns the rows that break a rule, so a failure
 * shows the offending data.
 */
export const INVARIANT_QUERIES = {
  entriesSumToZeroPerCurrency: `
    SELECT currency, sum(amount) AS total FROM ledger_entries GROUP BY currency HAVING sum(amount) <> 0`,
  balanceEqualsSumOfEntries: `
    SELECT b.account_id, b.available, coalesce(sum(e.amount), 0) AS entries
    FROM balances b LEFT JOIN ledger_entries e ON e.account_id = b.account_id
    GROUP BY b.account_id, b.available HAVING b.available <> coalesce(sum(e.amount), 0)`,
  noNegativeBalanceUnlessAllowed: `
    SELECT account_id, available FROM balances WHERE available < 0 AND NOT allow_negative`,
  lastEntryBalanceAfterIsTheBalance: `
    SELECT b.account_id, b.available, last.balance_after FROM balances b
    JOIN LATERAL (SELECT balance_after FROM ledger_entries e WHERE e.account_id = b.account_id
                  ORDER BY seq DESC LIMIT 1) last ON true
    WHERE last.balance_after <> b.available`,
  authorizedHasTwoBalancedEntries: `
    SELECT p.id, count(e.*) AS entries, sum(e.amount) AS total,
           bool_and(e.currency = p.currency) AS same_currency,
           count(*) FILTER (WHERE e.account_id = p.payer_account_id AND e.amount = -p.amount) AS debits,
           count(*) FILTER (WHERE e.account_id = p.payee_account_id AND e.amount = p.amount) AS credits
    FROM payments p LEFT JOIN ledger_entries e ON e.payment_id = p.id
    WHERE p.status = 'AUTHORIZED'
    GROUP BY p.id
    HAVING count(e.*) <> 2 OR sum(e.amount) <> 0 OR NOT bool_and(e.currency = p.currency)
        OR count(*) FILTER (WHERE e.account_id = p.payer_account_id AND e.amount = -p.amount) <> 1
        OR count(*) FILTER (WHERE e.account_id = p.payee_account_id AND e.amount = p.amount) <> 1`,
  declinedHasNoEntries: `
    SELECT p.id FROM payments p JOIN ledger_entries e ON e.payment_id = p.id WHERE p.status = 'DECLINED'`,
  everyPaymentHasExactlyOneMatchingEvent: `
    SELECT p.id, p.status, count(o.*) AS events,
           count(*) FILTER (WHERE o.event_type = CASE p.status WHEN 'AUTHORIZED' THEN '${PaymentEventType.Authorized}'
                                                              ELSE '${PaymentEventType.Declined}' END) AS matching
    FROM payments p LEFT JOIN outbox o ON o.aggregate_id = p.id
    GROUP BY p.id, p.status
    HAVING count(o.*) <> 1
        OR count(*) FILTER (WHERE o.event_type = CASE p.status WHEN 'AUTHORIZED' THEN '${PaymentEventType.Authorized}'
                                                              ELSE '${PaymentEventType.Declined}' END) <> 1`,
  noEventWithoutPayment: `
    SELECT o.id FROM outbox o LEFT JOIN payments p ON p.id = o.aggregate_id
    WHERE o.aggregate_type = '${PAYMENT_AGGREGATE_TYPE}' AND p.id IS NULL`,
} as const;

export type InvariantName = keyof typeof INVARIANT_QUERIES;

/** Every broken invariant with the rows that break it; empty when the ledger is consistent. */
export async function brokenInvariants(pool: Pool): Promise<Partial<Record<InvariantName, unknown[]>>> {
  const broken: Partial<Record<InvariantName, unknown[]>> = {};
  for (const [name, sql] of Object.entries(INVARIANT_QUERIES) as Array<[InvariantName, string]>) {
    const { rows } = await pool.query(sql);
    if (rows.length > 0) broken[name] = rows.slice(0, 5);
  }
  return broken;
}
