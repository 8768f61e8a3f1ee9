import { afterEach, expect } from "vitest";
import type { Pool } from "../../lib/db/pool.ts";
import { aggregateTypeOf, type EventType } from "../../lib/events/contract.ts";

const AUTHORIZED: EventType = "PaymentAuthorized";
const DECLINED: EventType = "PaymentDeclined";
const HELD: EventType = "PaymentHeld";
const CAPTURED: EventType = "PaymentCaptured";
const VOIDED: EventType = "PaymentVoided";
const EXPIRED: EventType = "PaymentExpired";
const REFUNDED: EventType = "PaymentRefunded";
const REFUND_DECLINED: EventType = "PaymentRefundDeclined";

// What moved payer to payee: a hold's capture, or the payment itself when it was no hold.
const MOVED = `CASE WHEN p.status = 'DECLINED' THEN 0
                    ELSE coalesce((SELECT coalesce(h.captured_amount, 0) FROM holds h WHERE h.payment_id = p.id),
                                  p.amount) END`;

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
  // A payment that moved money at once: its two entries (refunds aside).
  authorizedHasTwoBalancedEntries: `
    SELECT p.id, count(e.*) AS entries, sum(e.amount) AS total
    FROM payments p LEFT JOIN ledger_entries e ON e.payment_id = p.id AND e.refund_id IS NULL
    WHERE p.status = 'AUTHORIZED' AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.payment_id = p.id)
    GROUP BY p.id
    HAVING count(e.*) <> 2 OR sum(e.amount) <> 0 OR NOT bool_and(e.currency = p.currency)
        OR count(*) FILTER (WHERE e.account_id = p.payer_account_id AND e.amount = -p.amount) <> 1
        OR count(*) FILTER (WHERE e.account_id = p.payee_account_id AND e.amount = p.amount) <> 1`,
  declinedHasNoEntries: `
    SELECT p.id FROM payments p JOIN ledger_entries e ON e.payment_id = p.id WHERE p.status = 'DECLINED'
    UNION ALL
    SELECT p.id FROM payments p JOIN holds h ON h.payment_id = p.id WHERE p.status = 'DECLINED'`,
  // A hold posts nothing until captured, then exactly its capture: captured <= held.
  holdPostsOnlyItsCapture: `
    SELECT h.payment_id, h.state, h.amount, h.captured_amount, count(e.*) AS entries
    FROM holds h JOIN payments p ON p.id = h.payment_id
    LEFT JOIN ledger_entries e ON e.payment_id = h.payment_id AND e.refund_id IS NULL
    GROUP BY h.payment_id, h.state, h.amount, h.captured_amount, p.payer_account_id, p.payee_account_id, p.amount
    HAVING h.amount <> p.amount
        OR (h.state = 'CAPTURED') IS DISTINCT FROM (count(e.*) = 2)
        OR (h.state <> 'CAPTURED' AND count(e.*) <> 0)
        OR (h.state = 'CAPTURED' AND (h.captured_amount NOT BETWEEN 1 AND h.amount
            OR count(*) FILTER (WHERE e.account_id = p.payer_account_id AND e.amount = -h.captured_amount) <> 1
            OR count(*) FILTER (WHERE e.account_id = p.payee_account_id AND e.amount = h.captured_amount) <> 1))`,
  // What an account's open holds reserve is its pending balance, and never more than it has.
  pendingIsWhatOpenHoldsReserve: `
    SELECT b.account_id, b.pending, coalesce(sum(h.amount), 0) AS held
    FROM balances b LEFT JOIN holds h ON h.payer_account_id = b.account_id AND h.state = 'HELD'
    GROUP BY b.account_id, b.pending HAVING b.pending <> coalesce(sum(h.amount), 0)`,
  heldWithinAvailable: `
    SELECT b.account_id, b.balance, p.pending FROM (${ACCOUNT_BALANCES}) b JOIN balances p USING (account_id)
    WHERE NOT b.allow_negative AND p.pending > b.balance`,
  // Refunds never exceed what moved, and the payment's total is the sum of its refunds.
  refundedWithinCaptured: `
    SELECT p.id, p.refunded_amount, ${MOVED} AS moved,
           (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.payment_id = p.id AND r.status = 'REFUNDED') AS refunds
    FROM payments p
    WHERE p.refunded_amount > ${MOVED}
       OR p.refunded_amount <> (SELECT coalesce(sum(r.amount), 0) FROM refunds r
                                WHERE r.payment_id = p.id AND r.status = 'REFUNDED')`,
  // A refund moves its amount back from payee to payer, in two entries; a declined one moves nothing.
  refundHasTwoBalancedEntries: `
    SELECT r.id, r.status, count(e.*) AS entries
    FROM refunds r JOIN payments p ON p.id = r.payment_id
    LEFT JOIN ledger_entries e ON e.refund_id = r.id
    GROUP BY r.id, r.status, r.amount, p.payer_account_id, p.payee_account_id, r.payment_id
    HAVING (r.status = 'DECLINED' AND count(e.*) <> 0)
        OR (r.status = 'REFUNDED' AND (count(e.*) <> 2
            OR count(*) FILTER (WHERE e.account_id = p.payee_account_id AND e.amount = -r.amount) <> 1
            OR count(*) FILTER (WHERE e.account_id = p.payer_account_id AND e.amount = r.amount) <> 1
            OR bool_or(e.payment_id <> r.payment_id)))`,
  // One event for the payment's decision, one for how its hold ended (none while held), one per refund.
  everyPaymentHasExactlyOneMatchingEvent: `
    SELECT p.id, p.status, count(o.*) AS events
    FROM payments p LEFT JOIN holds h ON h.payment_id = p.id
    LEFT JOIN outbox o ON o.aggregate_id = p.id AND o.event_type IN ('${AUTHORIZED}', '${DECLINED}', '${HELD}')
    GROUP BY p.id, p.status, h.payment_id
    HAVING count(o.*) <> 1
        OR count(*) FILTER (WHERE o.event_type = CASE WHEN p.status = 'DECLINED' THEN '${DECLINED}'
                                                      WHEN h.payment_id IS NOT NULL THEN '${HELD}'
                                                      ELSE '${AUTHORIZED}' END) <> 1`,
  noHoldBothCapturedAndVoided: `
    SELECT h.payment_id, h.state, array_agg(o.event_type) AS endings
    FROM holds h LEFT JOIN outbox o ON o.aggregate_id = h.payment_id
      AND o.event_type IN ('${CAPTURED}', '${VOIDED}', '${EXPIRED}')
    GROUP BY h.payment_id, h.state
    HAVING count(o.*) <> CASE h.state WHEN 'HELD' THEN 0 ELSE 1 END
        OR bool_or(o.event_type <> CASE h.state WHEN 'CAPTURED' THEN '${CAPTURED}'
                                                WHEN 'VOIDED' THEN '${VOIDED}' ELSE '${EXPIRED}' END)`,
  everyRefundHasExactlyOneMatchingEvent: `
    SELECT r.id, r.status, count(o.*) AS events FROM refunds r
    LEFT JOIN outbox o ON o.aggregate_id = r.payment_id AND o.payload ->> 'refund_id' = r.id
    GROUP BY r.id, r.status
    HAVING count(o.*) <> 1
        OR bool_or(o.event_type <> CASE r.status WHEN 'REFUNDED' THEN '${REFUNDED}' ELSE '${REFUND_DECLINED}' END)`,
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

/**
 * Registers a check after each test of the file: the ledger of `pool()` keeps
 * every invariant. For every test file that moves money.
 */
export function checkInvariantsAfterEach(pool: () => Pool | undefined): void {
  afterEach(async () => {
    const target = pool();
    if (target) expect(await brokenInvariants(target)).toEqual({});
  });
}
