-- How money moves between two accounts, for the ledger's write functions
-- (020 and on). A move updates the two balance rows in account id order, each
-- UPDATE taking its row's lock as it writes it: the debit's WHERE is the
-- funds check, so a move that passes is one statement per row, with no read
-- and no separate lock before it. A move refused at its second row undoes its
-- first in place (rare, and seen by no one else: the transaction holds it).
--
-- Locks are taken in one global order, so no two calls ever wait on each
-- other in a cycle: the caller's idempotency key first, then the one payment
-- or hold row a call works on (refund_payment, capture_payment, void_payment;
-- expire_holds skips any that are taken), then balance rows in account id
-- order.
--
-- An account's balance row holds its posted balance (available, the sum of
-- its entries) and what its open holds reserve (pending). What it can spend
-- is available - pending; held_within_balance keeps that at or above zero
-- unless the account may go negative.
--
-- An ordinary account's balance row is updated in place under its row lock. A
-- hot account (balances.hot) is credited without touching its row: the credit
-- is appended to hot_credits and folded into the row later, by its next debit
-- or by roll_up_hot_credits(). Its balance is balances.available + its
-- hot_credits.

-- Replaced by lock_move() and post_move(), which move_funds() and
-- take_hot_funds() replace in turn (the previous release's bodies still call
-- those two: 016 keeps them for one release).
DROP FUNCTION IF EXISTS hot_debit(text, text, bigint, timestamptz);
DROP FUNCTION IF EXISTS post_move(text, text, text, text, text, boolean, bigint, text, timestamptz);

-- Folds a hot account's committed credits into its balance row. The caller
-- must already hold the row's lock, taken by an earlier statement: this
-- statement's snapshot then sees every credit committed before the lock, and
-- credits still in flight stay for the next fold.
CREATE OR REPLACE FUNCTION fold_hot_credits(p_account text) RETURNS void
LANGUAGE sql AS $$
  WITH folded AS (DELETE FROM hot_credits WHERE account_id = p_account RETURNING amount)
  UPDATE balances b SET available = b.available + f.total
    FROM (SELECT sum(amount)::bigint AS total FROM folded) f
   WHERE b.account_id = p_account AND f.total IS NOT NULL
$$;

-- Whether a balance row in that currency exists and is hot. No lock: a credit
-- to a hot account does not touch its row (the entry's foreign key takes only
-- a key-share lock, which no balance update waits for).
CREATE OR REPLACE FUNCTION is_hot_account(p_account text, p_currency text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT b.hot FROM balances b WHERE b.account_id = p_account AND b.currency = p_currency), false)
$$;

-- What a debit of an ordinary account does in one UPDATE (its callers write
-- it inline: the common path), for a hot one: it locks the row, folds the
-- credits committed before the lock (a statement of its own, so it sees
-- them), then takes p_available from available and adds p_pending to pending
-- if what the account can spend, available - pending, covers p_need (NULL:
-- no check, the caller holds a reservation). Returns available after, or NULL
-- when p_account is no hot account in p_currency or cannot spend p_need
-- (nothing changed but the fold, which moves nothing).
CREATE OR REPLACE FUNCTION take_hot_funds(
  p_account text, p_currency text, p_available bigint, p_pending bigint, p_need bigint, p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_after bigint;
BEGIN
  PERFORM 1 FROM balances b WHERE b.account_id = p_account AND b.currency = p_currency AND b.hot
     FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  PERFORM fold_hot_credits(p_account);
  UPDATE balances b SET available = b.available - p_available, pending = b.pending + p_pending, updated_at = p_now
   WHERE b.account_id = p_account
     AND (p_need IS NULL OR b.allow_negative OR b.available - b.pending >= p_need)
  RETURNING b.available INTO v_after;
  RETURN v_after;
END;
$$;

-- Moves p_amount of p_currency from p_debit to p_credit: both balances (in
-- account id order, see above) and both entries (balance_after on each; none
-- on a credit to a hot account, which goes to hot_credits instead and counts
-- in its balance from there). Returns the debited account's balance after,
-- or NULL when the move is refused and no money moved (a first row already
-- updated is put back, and stays locked to the end of the transaction, as
-- lock_move() locked both): the debited
-- account has no balance in p_currency or cannot spend p_need (NULL: no
-- check), or the credited one cannot receive p_currency. p_release: what a
-- hold of the debited account reserved, given back with the move (a
-- capture). p_refund_id: the refund the entries belong to.
CREATE OR REPLACE FUNCTION move_funds(
  p_payment_id text, p_debit_entry_id text, p_credit_entry_id text,
  p_debit text, p_credit text, p_amount bigint, p_currency text, p_need bigint, p_now timestamptz,
  p_release bigint DEFAULT 0, p_refund_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_debit_first  boolean := p_debit < p_credit;
  v_debit_after  bigint;
  v_credit_after bigint;
  v_credit_hot   boolean := false;
  v_credited     boolean := false;
BEGIN
  -- One pass per row, the lower account id first.
  FOR v_turn IN 1..2 LOOP
    IF (v_turn = 1) = v_debit_first THEN
      UPDATE balances b SET available = b.available - p_amount, pending = b.pending - p_release, updated_at = p_now
       WHERE b.account_id = p_debit AND b.currency = p_currency AND NOT b.hot
         AND (p_need IS NULL OR b.allow_negative OR b.available - b.pending >= p_need)
      RETURNING b.available INTO v_debit_after;
      IF NOT FOUND THEN
        v_debit_after := take_hot_funds(p_debit, p_currency, p_amount, -p_release, p_need, p_now);
        IF v_debit_after IS NULL THEN
          IF v_credited AND NOT v_credit_hot THEN
            UPDATE balances b SET available = b.available - p_amount WHERE b.account_id = p_credit;
          END IF;
          RETURN NULL;
        END IF;
      END IF;
    ELSE
      UPDATE balances b SET available = b.available + p_amount, updated_at = p_now
       WHERE b.account_id = p_credit AND b.currency = p_currency AND NOT b.hot
      RETURNING b.available INTO v_credit_after;
      IF NOT FOUND THEN
        v_credit_hot := is_hot_account(p_credit, p_currency);
        IF NOT v_credit_hot THEN
          IF v_debit_after IS NOT NULL THEN
            UPDATE balances b SET available = b.available + p_amount, pending = b.pending + p_release
             WHERE b.account_id = p_debit;
          END IF;
          RETURN NULL;
        END IF;
      END IF;
      v_credited := true;
    END IF;
  END LOOP;
  INSERT INTO ledger_entries (id, payment_id, account_id, amount, currency, balance_after, created_at, refund_id)
  VALUES (p_debit_entry_id, p_payment_id, p_debit, -p_amount, p_currency, v_debit_after, p_now, p_refund_id),
         (p_credit_entry_id, p_payment_id, p_credit, p_amount, p_currency, v_credit_after, p_now, p_refund_id);
  IF v_credit_hot THEN
    INSERT INTO hot_credits (account_id, entry_id, amount) VALUES (p_credit, p_credit_entry_id, p_amount);
  END IF;
  RETURN v_debit_after;
END;
$$;

-- Releases open holds whose rows the caller has locked, ending them as
-- VOIDED or EXPIRED: each payer's pending balance gives back what its holds
-- reserved (the payers' rows locked in account id order, after the holds),
-- and each hold gets its event, p_event_ids[i] for p_payment_ids[i].
CREATE OR REPLACE FUNCTION release_holds(
  p_payment_ids text[], p_event_ids text[], p_state text, p_now timestamptz, p_traceparent text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM balances b
   WHERE b.account_id IN (SELECT h.payer_account_id FROM holds h WHERE h.payment_id = ANY (p_payment_ids))
   ORDER BY b.account_id
     FOR NO KEY UPDATE;
  UPDATE balances b SET pending = b.pending - r.held, updated_at = p_now
    FROM (SELECT h.payer_account_id, sum(h.amount)::bigint AS held FROM holds h
           WHERE h.payment_id = ANY (p_payment_ids) GROUP BY h.payer_account_id) r
   WHERE b.account_id = r.payer_account_id;
  UPDATE holds h SET state = p_state, settled_at = p_now WHERE h.payment_id = ANY (p_payment_ids);
  -- The contract: schemas/payment_voided.json and payment_expired.json.
  INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, next_attempt_at, traceparent)
  SELECT r.event_id, 'Payment', p.id,
         CASE p_state WHEN 'VOIDED' THEN 'PaymentVoided' ELSE 'PaymentExpired' END,
         jsonb_build_object(
           'payment_id', p.id,
           'payer_account_id', p.payer_account_id,
           'payee_account_id', p.payee_account_id,
           'amount_cents', h.amount,
           'currency', p.currency)
         || CASE p_state WHEN 'EXPIRED' THEN jsonb_build_object('expires_at', rfc3339(h.expires_at))
                         ELSE '{}'::jsonb END,
         p_now, p_now, p_traceparent
    FROM unnest(p_payment_ids, p_event_ids) AS r(payment_id, event_id)
    JOIN holds h ON h.payment_id = r.payment_id
    JOIN payments p ON p.id = r.payment_id;
END;
$$;

-- Folds the credits of every hot account whose row is free, in one
-- transaction; an account a debit or another roll-up holds is skipped (it is
-- being folded already). Returns how many accounts it folded.
CREATE OR REPLACE FUNCTION roll_up_hot_credits() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_account text;
  v_folded  integer := 0;
BEGIN
  FOR v_account IN SELECT DISTINCT h.account_id FROM hot_credits h LOOP
    PERFORM 1 FROM balances b WHERE b.account_id = v_account FOR NO KEY UPDATE SKIP LOCKED;
    IF FOUND THEN
      PERFORM fold_hot_credits(v_account);
      v_folded := v_folded + 1;
    END IF;
  END LOOP;
  RETURN v_folded;
END;
$$;
