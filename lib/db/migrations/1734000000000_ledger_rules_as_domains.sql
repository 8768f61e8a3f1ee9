-- Up Migration

-- The same rules, enforced more cheaply (bench:ledger-costs; BENCHMARKS.md,
-- "Where a payment's time goes"). Nothing the database refuses changes.
--
-- A table's CHECK constraints are read back from the catalog and planned
-- again by every statement that writes the table: a payment paid that 18
-- times before this migration, about a fifth of its server time. A domain's
-- constraints are read once per session and checked only on the values
-- written. So the rules about one column become domains of that column's
-- type (all but the three named below), and the tables keep the rules that
-- relate two columns.
--
-- Why no table rewrite and no scan: each column gets its domain while the
-- domain has no constraint yet (a binary-compatible change: nothing is
-- rewritten, its indexes are kept), then the domain gets the rule NOT VALID
-- (checked on every value written from now on, not against the rows already
-- there). Those rows were checked by the same rule as a table CHECK until
-- this migration dropped it, in this same transaction. The two-column rules
-- on a changed column are dropped and added back NOT VALID for the same
-- reason: ALTER COLUMN TYPE would otherwise re-verify them by reading the
-- whole table under its exclusive lock.
--
-- The previous release notices nothing: its statements name no constraint,
-- a domain column reaches clients as its base type, and the SQL functions it
-- calls are this release's. Except for one moment: a call of its SQL
-- functions that began before this commits (one waiting for the locks below)
-- finishes the body it began with, against this schema. So no column changes
-- that such a body returns with RETURN QUERY, which demands its declared
-- types exactly (payments.status and error_code on a replay, holds.amount
-- from void_payment), and the helpers such a body calls stay
-- (lib/ledger/sql/016). Those three keep their table CHECKs for now.
--
-- The tables are locked at once, before any change, in the order authorize,
-- capture and refund take them (idempotency key, payment, refund, balances,
-- entries): such a call in flight then waits for this migration rather than
-- deadlocking with it halfway. Void and hold expiry take balances before
-- payments, so one of them in flight can deadlock with this statement; migrate
-- waits for a lock no longer than MIGRATION_LOCK_TIMEOUT_MS, below Postgres's
-- deadlock_timeout, so it is this migration that gives way, rolls back and runs
-- again (lib/db/migrate.ts), not the call.
LOCK TABLE idempotency_keys, payments, refunds, balances, ledger_entries IN ACCESS EXCLUSIVE MODE;

-- ULIDs and currency codes: the same character sets and lengths, checked by
-- a length test and a one-state pattern instead of a counted repetition,
-- which the regex engine evaluated several times slower (each payment writes
-- fourteen such values).
ALTER DOMAIN ulid ADD CONSTRAINT ulid_format
  CHECK (octet_length(VALUE) = 26 AND VALUE ~ '^[0-9A-HJKMNP-TV-Z]+$') NOT VALID;
ALTER DOMAIN ulid DROP CONSTRAINT ulid_check;
ALTER DOMAIN currency_code ADD CONSTRAINT currency_code_format
  CHECK (octet_length(VALUE) = 3 AND VALUE ~ '^[A-Z]+$') NOT VALID;
ALTER DOMAIN currency_code DROP CONSTRAINT currency_code_check;

-- A payment's or refund's amount, in minor units: at least 1, at most
-- 2^53 - 1 (what every JSON client reads exactly).
CREATE DOMAIN amount_cents AS bigint;
-- A ledger entry's signed amount (debits below zero): never zero.
CREATE DOMAIN entry_amount AS bigint;
-- What an account's open holds reserve (balances.pending).
CREATE DOMAIN reserved_amount AS bigint;
CREATE DOMAIN idempotency_key AS text;
CREATE DOMAIN payment_description AS text;

-- The stored column `direction` was never read (the store derives it from
-- the amount's sign) and cost every entry an expression and 6 bytes.
ALTER TABLE ledger_entries
  DROP CONSTRAINT ledger_entries_amount_check,
  DROP CONSTRAINT debit_has_balance_after,
  DROP COLUMN direction;
ALTER TABLE ledger_entries ALTER COLUMN amount TYPE entry_amount;
ALTER TABLE ledger_entries ADD CONSTRAINT debit_has_balance_after
  CHECK (balance_after IS NOT NULL OR amount > 0) NOT VALID;

-- balance_not_below_zero (allow_negative OR available >= 0) follows from
-- held_within_balance and pending >= 0, which stay.
ALTER TABLE balances
  DROP CONSTRAINT balance_not_below_zero,
  DROP CONSTRAINT balances_pending_check,
  DROP CONSTRAINT held_within_balance;
ALTER TABLE balances ALTER COLUMN pending TYPE reserved_amount;
ALTER TABLE balances ADD CONSTRAINT held_within_balance
  CHECK (allow_negative OR available - pending >= 0) NOT VALID;

ALTER TABLE payments
  DROP CONSTRAINT payments_amount_check,
  DROP CONSTRAINT payments_idempotency_key_check,
  DROP CONSTRAINT payments_description_check,
  DROP CONSTRAINT refunded_within_amount;
ALTER TABLE payments
  ALTER COLUMN amount TYPE amount_cents,
  ALTER COLUMN idempotency_key TYPE idempotency_key,
  ALTER COLUMN description TYPE payment_description;
ALTER TABLE payments
  ADD CONSTRAINT refunded_within_amount CHECK (refunded_amount BETWEEN 0 AND amount) NOT VALID;

ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_key_check;
ALTER TABLE idempotency_keys ALTER COLUMN key TYPE idempotency_key;

ALTER TABLE refunds
  DROP CONSTRAINT refunds_amount_check,
  DROP CONSTRAINT refunds_description_check;
ALTER TABLE refunds
  ALTER COLUMN amount TYPE amount_cents,
  ALTER COLUMN description TYPE payment_description;

ALTER DOMAIN amount_cents ADD CONSTRAINT amount_cents_range
  CHECK (VALUE > 0 AND VALUE <= 9007199254740991) NOT VALID;
ALTER DOMAIN entry_amount ADD CONSTRAINT entry_amount_not_zero CHECK (VALUE <> 0) NOT VALID;
ALTER DOMAIN reserved_amount ADD CONSTRAINT reserved_amount_not_negative CHECK (VALUE >= 0) NOT VALID;
ALTER DOMAIN idempotency_key ADD CONSTRAINT idempotency_key_length
  CHECK (length(VALUE) BETWEEN 1 AND 255) NOT VALID;
ALTER DOMAIN payment_description ADD CONSTRAINT payment_description_length
  CHECK (length(VALUE) <= 500) NOT VALID;

-- Down Migration

ALTER TABLE refunds
  ALTER COLUMN amount TYPE bigint,
  ALTER COLUMN description TYPE text;
ALTER TABLE refunds
  ADD CONSTRAINT refunds_amount_check CHECK (amount > 0 AND amount <= 9007199254740991),
  ADD CONSTRAINT refunds_description_check CHECK (length(description) <= 500);

ALTER TABLE idempotency_keys ALTER COLUMN key TYPE text;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_key_check CHECK (length(key) BETWEEN 1 AND 255);

ALTER TABLE payments DROP CONSTRAINT refunded_within_amount;
ALTER TABLE payments
  ALTER COLUMN amount TYPE bigint,
  ALTER COLUMN idempotency_key TYPE text,
  ALTER COLUMN description TYPE text;
ALTER TABLE payments
  ADD CONSTRAINT payments_amount_check CHECK (amount > 0 AND amount <= 9007199254740991),
  ADD CONSTRAINT payments_idempotency_key_check CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  ADD CONSTRAINT payments_description_check CHECK (length(description) <= 500),
  ADD CONSTRAINT refunded_within_amount CHECK (refunded_amount BETWEEN 0 AND amount);

ALTER TABLE balances DROP CONSTRAINT held_within_balance;
ALTER TABLE balances ALTER COLUMN pending TYPE bigint;
ALTER TABLE balances
  ADD CONSTRAINT balances_pending_check CHECK (pending >= 0),
  ADD CONSTRAINT balance_not_below_zero CHECK (allow_negative OR available >= 0),
  ADD CONSTRAINT held_within_balance CHECK (allow_negative OR available - pending >= 0);

ALTER TABLE ledger_entries DROP CONSTRAINT debit_has_balance_after;
ALTER TABLE ledger_entries ALTER COLUMN amount TYPE bigint;
ALTER TABLE ledger_entries
  ADD COLUMN direction text GENERATED ALWAYS AS (CASE WHEN amount < 0 THEN 'DEBIT' ELSE 'CREDIT' END) STORED,
  ADD CONSTRAINT ledger_entries_amount_check CHECK (amount <> 0),
  ADD CONSTRAINT debit_has_balance_after CHECK (balance_after IS NOT NULL OR amount > 0);

DROP DOMAIN payment_description;
DROP DOMAIN idempotency_key;
DROP DOMAIN reserved_amount;
DROP DOMAIN entry_amount;
DROP DOMAIN amount_cents;

ALTER DOMAIN currency_code ADD CONSTRAINT currency_code_check CHECK (VALUE ~ '^[A-Z]{3}$');
ALTER DOMAIN currency_code DROP CONSTRAINT currency_code_format;
ALTER DOMAIN ulid ADD CONSTRAINT ulid_check CHECK (VALUE ~ '^[0-9A-HJKMNP-TV-Z]{26}$');
ALTER DOMAIN ulid DROP CONSTRAINT ulid_format;
