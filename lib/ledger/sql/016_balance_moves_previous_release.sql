-- The previous release's balance moves, lock_move() and post_move(), kept
-- unchanged for one release. migrate runs first (scripts/deploy.sh) and
-- replaces the ledger's functions at its commit, but a call of the previous
-- release's authorize_payment, capture_payment or refund_payment that began
-- before that commit keeps running the body it began with: one that was
-- waiting for the migration's table locks goes on, once they are released, to
-- call these two. Dropped with them, every such call would fail (no such
-- function) instead of completing. This release's functions call move_funds()
-- (015) and never these.
--
-- Remove this file, and DROP both signatures in 015, in the next release.

-- Locks what a move of p_currency from p_debit to p_credit needs, with one
-- statement, in account id order: the debited account's row (its funds are
-- decided under the lock) and the credited one's unless it is hot (a credit to
-- a hot account takes no lock). Rows in another currency are not locked: the
-- move is refused. A hot debited account's committed credits are folded in
-- once its row is locked, so `debit` holds its whole balance.
--
--   debit            the debited account's balance row, locked; NULL when it
--                    has none in p_currency
--   credit_receives  the credited account has a balance row in p_currency
--   credit_hot       ... and it is hot: credit it through hot_credits
CREATE OR REPLACE FUNCTION lock_move(
  p_debit text, p_credit text, p_currency text,
  OUT debit balances, OUT credit_receives boolean, OUT credit_hot boolean)
LANGUAGE plpgsql AS $$
DECLARE
  v_row balances%ROWTYPE;
BEGIN
  credit_receives := false;
  credit_hot := false;
  FOR v_row IN
    SELECT * FROM balances b
     WHERE b.account_id IN (p_debit, p_credit) AND b.currency = p_currency
       AND (b.account_id = p_debit OR NOT b.hot)
     ORDER BY b.account_id
       FOR NO KEY UPDATE
  LOOP
    IF v_row.account_id = p_debit THEN
      debit := v_row;
    ELSE
      credit_receives := true;
    END IF;
  END LOOP;
  IF NOT credit_receives THEN
    credit_hot := is_hot_account(p_credit, p_currency);
    credit_receives := credit_hot;
  END IF;
  IF debit.hot THEN
    PERFORM fold_hot_credits(p_debit);
    SELECT * INTO debit FROM balances b WHERE b.account_id = p_debit;
  END IF;
END;
$$;

-- Writes a move decided under lock_move(): both balances and both entries
-- (balance_after on each; none on a credit to a hot account, which goes to
-- hot_credits instead and counts in its balance from there). p_release: what
-- a hold of the debited account reserved, given back with the move (a
-- capture). p_refund_id: the refund the entries belong to. Returns the
-- debited account's balance after.
CREATE OR REPLACE FUNCTION post_move(
  p_payment_id text, p_debit_entry_id text, p_credit_entry_id text,
  p_debit text, p_credit text, p_credit_hot boolean, p_amount bigint, p_currency text, p_now timestamptz,
  p_release bigint DEFAULT 0, p_refund_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_debit_after  bigint;
  v_credit_after bigint;
BEGIN
  UPDATE balances SET available = available - p_amount, pending = pending - p_release, updated_at = p_now
   WHERE account_id = p_debit RETURNING available INTO v_debit_after;
  IF NOT p_credit_hot THEN
    UPDATE balances SET available = available + p_amount, updated_at = p_now
     WHERE account_id = p_credit RETURNING available INTO v_credit_after;
  END IF;
  INSERT INTO ledger_entries (id, payment_id, account_id, amount, currency, balance_after, created_at, refund_id)
  VALUES (p_debit_entry_id, p_payment_id, p_debit, -p_amount, p_currency, v_debit_after, p_now, p_refund_id),
         (p_credit_entry_id, p_payment_id, p_credit, p_amount, p_currency, v_credit_after, p_now, p_refund_id);
  IF p_credit_hot THEN
    INSERT INTO hot_credits (account_id, entry_id, amount) VALUES (p_credit, p_credit_entry_id, p_amount);
  END IF;
  RETURN v_debit_after;
END;
$$;
