-- How a payment moves an account's balance, for authorize_payment (020). An
-- ordinary account's balance row is updated in place under its row lock. A hot
-- account (balances.hot) is credited without touching its row: the credit is
-- appended to hot_credits and folded into the row later, by its next debit or
-- by roll_up_hot_credits(). Its balance is balances.available + its hot_credits.

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

-- Debits a hot account when its funds allow: the balance after, or NULL when
-- the funds check refused it or the account is not hot (authorize_payment
-- calls it when its in-place debit of an ordinary account matched no row).
-- The row stays locked until commit.
CREATE OR REPLACE FUNCTION hot_debit(p_account text, p_currency text, p_amount bigint, p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_after bigint;
  v_hot   boolean;
BEGIN
  SELECT b.hot INTO v_hot FROM balances b
   WHERE b.account_id = p_account AND b.currency = p_currency FOR NO KEY UPDATE;
  IF v_hot IS NOT TRUE THEN
    RETURN NULL;
  END IF;
  -- With the row locked, fold every committed credit in, so the funds check
  -- below (and the row's CHECK) sees the real balance.
  PERFORM fold_hot_credits(p_account);
  UPDATE balances SET available = available - p_amount, updated_at = p_now
   WHERE account_id = p_account AND (allow_negative OR available >= p_amount)
  RETURNING available INTO v_after;
  RETURN v_after;
END;
$$;

-- Whether a balance row in that currency exists and is hot. No lock: a credit
-- to a hot account does not touch its row (the entry's foreign key takes only
-- a key-share lock, which no balance update waits for).
CREATE OR REPLACE FUNCTION is_hot_account(p_account text, p_currency text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT b.hot FROM balances b WHERE b.account_id = p_account AND b.currency = p_currency), false)
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
