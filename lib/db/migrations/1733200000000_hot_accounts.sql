-- Up Migration

-- Hot accounts: an account an operator marks as receiving from many payers at
-- once (a merchant). A credit to it takes no lock on its balance row: the
-- entry is appended with a row in hot_credits, and the account's balance is
-- balances.available (the checkpoint) plus its hot_credits. A debit of a hot
-- account, or a periodic roll-up, locks the row and folds the committed
-- hot_credits into the checkpoint.
ALTER TABLE balances ADD COLUMN hot boolean NOT NULL DEFAULT false;
-- The target of hot_credits' foreign key: only a hot account has hot credits,
-- and an account cannot be unmarked while credits are still unfolded.
ALTER TABLE balances ADD CONSTRAINT balances_account_hot UNIQUE (account_id, hot);

-- A hot account's credits are not serialised, so no running balance exists
-- for them: their balance_after is NULL. Every debit still has one.
ALTER TABLE ledger_entries ALTER COLUMN balance_after DROP NOT NULL;
ALTER TABLE ledger_entries ADD CONSTRAINT debit_has_balance_after
  CHECK (balance_after IS NOT NULL OR amount > 0);

-- Credits to hot accounts not yet folded into the balance row. Positive only,
-- so the checkpoint is never above the balance and the balance row's floor
-- (balance_not_below_zero) still bounds the real balance.
CREATE TABLE hot_credits (
  account_id  ulid NOT NULL,
  entry_id    ulid NOT NULL REFERENCES ledger_entries (id),
  amount      bigint NOT NULL CHECK (amount > 0),
  hot         boolean NOT NULL DEFAULT true CHECK (hot),
  PRIMARY KEY (account_id, entry_id),
  CONSTRAINT hot_credits_hot_account FOREIGN KEY (account_id, hot) REFERENCES balances (account_id, hot)
);

-- Down Migration

DROP FUNCTION IF EXISTS roll_up_hot_credits();
DROP FUNCTION IF EXISTS fold_hot_credits(text);
DROP FUNCTION IF EXISTS hot_debit(text, text, bigint, timestamptz);
DROP FUNCTION IF EXISTS is_hot_account(text, text);
DROP TABLE hot_credits;
ALTER TABLE ledger_entries DROP CONSTRAINT debit_has_balance_after;
ALTER TABLE ledger_entries ALTER COLUMN balance_after SET NOT NULL;
ALTER TABLE balances DROP CONSTRAINT balances_account_hot;
ALTER TABLE balances DROP COLUMN hot;
