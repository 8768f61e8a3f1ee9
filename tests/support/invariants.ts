import type { Pool } from "../../lib/db/pool.ts";
import { aggregateTypeOf, type EventType } from "../../lib/events/contract.ts";

const AUTHORIZED: EventType = "PaymentAuthorized";
const DECLINED: EventType = "PaymentDeclined";

// An account's balance: its row plus, for a hot account, the credits not yet
// folded into the row (the same sum GetAccountBalance reads).
const ACCOUNT_BALANCES = `
  SELECT b.account_id, b.hot, b.allow_negative,
         b.available + coalesce((SELECT sum(h.amount) FROM hot_credits h WHERE h.account_id = b.account_id), 0)
           AS balance
  FROM balances b`;

/**
 * The ledger's invariants, checked in SQL against what was actually
 * committed. Each query returns the rows that break a rule, so a failure
 * shows the offending data.
 */
export const INVARIANT_QUERIES = {
  entriesSumToZeroPerCurrency: `
    SELECT currency, sum(amount) AS total FROM ledger_entries GROUP BY currency HAVING sum(amount) <> 0`,
  balanceEqualsSumOfEntries: `
    SELECT b.account_id, b.balance, coalesce(sum(e.amount), 0) AS entries
    FROM (${ACCOUNT_BALANCES}) b LEFT JOIN ledger_entries e ON e.account_id = b.account_id
    GROUP BY b.account_id, b.balance HAVING b.balance <> coalesce(sum(e.amount), 0)`,
  noNegativeBalanceUnlessAllowed: `
    SELECT account_id, balance FROM (${ACCOUNT_BALANCES}) b WHERE balance < 0 AND NOT allow_negative`,
  noEntryEverLeftABalanceBelowZero: `
    SELECT e.id, e.account_id, e.balance_after FROM ledger_entries e JOIN balances b ON b.account_id = e.account_id
    WHERE e.balance_after < 0 AND NOT b.allow_negative`,
  lastEntryBalanceAfterIsTheBalance: `
    SELECT b.account_id, b.balance, last.balance_after FROM (${ACCOUNT_BALANCES}) b
    JOIN LATERAL (SELECT balance_after FROM ledger_entries e WHERE e.account_id = b.account_id
                  ORDER BY seq DESC LIMIT 1) last ON true
    WHERE NOT b.hot AND last.balance_after IS DISTINCT FROM b.balance`,
  // Only a credit to a hot account goes without a balance after.
  balanceAfterMissingOnlyOnHotCredits: `
    SELECT e.id, e.account_id, e.amount FROM ledger_entries e JOIN balances b ON b.account_id = e.account_id
    WHERE e.balance_after IS NULL AND NOT (b.hot AND e.amount > 0)`,
  // A hot account's debits are serialised (seq order is their commit order)
  // and each folds in every credit committed before it, so balance_after plus
  // the debits so far is the credits that debit saw: never fewer than the
  // previous debit saw, never more than the account ever received.
  hotDebitBalanceAfterCountsCommittedCredits: `
    WITH debits AS (
      SELECT e.account_id, e.id, e.seq,
             e.balance_after + sum(-e.amount) OVER (PARTITION BY e.account_id ORDER BY e.seq) AS credits_seen
      FROM ledger_entries e JOIN balances b ON b.account_id = e.account_id
      WHERE b.hot AND e.amount < 0
    ), ordered AS (
      SELECT d.*, lag(credits_seen) OVER (PARTITION BY account_id ORDER BY seq) AS previous FROM debits d
    )
    SELECT o.* FROM ordered o
    WHERE o.credits_seen < coalesce(o.previous, 0)
       OR o.credits_seen > (SELECT coalesce(sum(c.amount), 0) FROM ledger_entries c
                            WHERE c.account_id = o.account_id AND c.amount > 0)`,
  hotCreditMatchesItsEntry: `
    SELECT h.entry_id, h.account_id, h.amount, e.account_id AS entry_account, e.amount AS entry_amount
    FROM hot_credits h JOIN ledger_entries e ON e.id = h.entry_id
    WHERE e.account_id <> h.account_id OR e.amount <> h.amount`,
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
           count(*) FILTER (WHERE o.event_type = CASE p.status WHEN 'AUTHORIZED' THEN '${AUTHORIZED}'
                                                              ELSE '${DECLINED}' END) AS matching
    FROM payments p LEFT JOIN outbox o ON o.aggregate_id = p.id
    GROUP BY p.id, p.status
    HAVING count(o.*) <> 1
        OR count(*) FILTER (WHERE o.event_type = CASE p.status WHEN 'AUTHORIZED' THEN '${AUTHORIZED}'
                                                              ELSE '${DECLINED}' END) <> 1`,
  noEventWithoutPayment: `
    SELECT o.id FROM outbox o LEFT JOIN payments p ON p.id = o.aggregate_id
    WHERE o.aggregate_type = '${aggregateTypeOf(AUTHORIZED)}' AND p.id IS NULL`,
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
