-- Up Migration

-- Crockford base32, 26 characters: the shape of every id this service hands out.
CREATE DOMAIN ulid AS text CHECK (VALUE ~ '^[0-9A-HJKMNP-TV-Z]{26}$');
CREATE DOMAIN currency_code AS text CHECK (VALUE ~ '^[A-Z]{3}$');

CREATE TABLE accounts (
  id          ulid PRIMARY KEY,
  owner       text NOT NULL CHECK (length(owner) BETWEEN 1 AND 255),
  currency    currency_code NOT NULL,
  is_system   boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_owner ON accounts (owner);

-- One row per account, kept apart from accounts so the hot path locks and
-- rewrites a narrow row. The floor lives here so the database itself refuses
-- an overdraft, whatever the application does.
CREATE TABLE balances (
  account_id      ulid PRIMARY KEY REFERENCES accounts (id),
  currency        currency_code NOT NULL,
  available       bigint NOT NULL DEFAULT 0,
  pending         bigint NOT NULL DEFAULT 0 CHECK (pending >= 0),
  allow_negative  boolean NOT NULL DEFAULT false,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT balance_not_below_zero CHECK (allow_negative OR available >= 0),
  -- The target of ledger_entries' foreign key: an entry's currency is its account's.
  CONSTRAINT balances_account_currency UNIQUE (account_id, currency)
) WITH (fillfactor = 50); -- room on each page for HOT updates: every payment rewrites two rows

-- Declined payments are recorded too, possibly naming accounts that do not
-- exist, so payer and payee carry no foreign key here; ledger entries do.
CREATE TABLE payments (
  id                ulid PRIMARY KEY,
  idempotency_key   text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  payer_account_id  ulid NOT NULL,
  payee_account_id  ulid NOT NULL,
  amount            bigint NOT NULL CHECK (amount > 0 AND amount <= 9007199254740991),
  currency          currency_code NOT NULL,
  description       text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  status            text NOT NULL CHECK (status IN ('AUTHORIZED', 'DECLINED')),
  error_code        text CHECK (error_code IN ('INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND', 'SAME_ACCOUNT', 'CURRENCY_MISMATCH')),
  error_message     text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT declined_has_reason CHECK ((status = 'DECLINED') = (error_code IS NOT NULL))
);
-- No index on payer/payee yet: no query reads payments by account, and every
-- index is paid for on the hot path.

-- Signed amounts (debit < 0) so that "entries of a currency sum to zero" and
-- "balance equals the sum of entries" are plain SUMs.
CREATE TABLE ledger_entries (
  id             ulid PRIMARY KEY,
  -- Statement order; only ever read through ledger_entries_statement.
  seq            bigint GENERATED ALWAYS AS IDENTITY,
  payment_id     ulid NOT NULL REFERENCES payments (id),
  account_id     ulid NOT NULL,
  amount         bigint NOT NULL CHECK (amount <> 0),
  direction      text GENERATED ALWAYS AS (CASE WHEN amount < 0 THEN 'DEBIT' ELSE 'CREDIT' END) STORED,
  currency       currency_code NOT NULL,
  balance_after  bigint NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- To the balance row, not the accounts row: the payment already holds the
  -- balance row's lock, so the key-share lock the check takes is free. On
  -- accounts, every concurrent payment to a hot account would share-lock one
  -- row (a MultiXact each time) while holding that account's balance lock.
  CONSTRAINT ledger_entries_account_currency FOREIGN KEY (account_id, currency)
    REFERENCES balances (account_id, currency)
);
-- An account's statement, newest first, paged by seq.
CREATE INDEX ledger_entries_statement ON ledger_entries (account_id, seq DESC);

CREATE TABLE idempotency_keys (
  key           text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
  request_hash  text NOT NULL,
  payment_id    ulid NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

CREATE TABLE outbox (
  -- Creation order. Events of one aggregate are written by transactions that
  -- hold that aggregate's lock, so seq order is their creation order.
  seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  id               ulid PRIMARY KEY,
  aggregate_type   text NOT NULL,
  aggregate_id     text NOT NULL,
  event_type       text NOT NULL,
  payload          jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  claimed_by       text,
  claimed_until    timestamptz,
  published_at     timestamptz,
  dead_lettered_at timestamptz,
  last_error       text,
  CONSTRAINT published_or_dead CHECK (published_at IS NULL OR dead_lettered_at IS NULL)
);
-- "Oldest pending events": only undelivered rows are indexed, so the index
-- stays as small as the backlog however large the table grows.
CREATE INDEX outbox_pending ON outbox (next_attempt_at, seq)
  WHERE published_at IS NULL AND dead_lettered_at IS NULL;
CREATE INDEX outbox_pending_by_aggregate ON outbox (aggregate_id, seq)
  WHERE published_at IS NULL AND dead_lettered_at IS NULL;

CREATE TABLE dead_letters (
  event_id     ulid PRIMARY KEY,
  event        jsonb NOT NULL,
  retry_count  integer NOT NULL CHECK (retry_count >= 0),
  error        text NOT NULL,
  failed_at    timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  redriven_at  timestamptz
);

-- The ledger's SQL functions (rfc3339, authorize_payment) are not migrations:
-- they live in lib/ledger/sql/ as CREATE OR REPLACE files, which migrate
-- applies after the migrations on every run.

-- Down Migration

DROP FUNCTION IF EXISTS authorize_payment(text, text, text, text, text, text, text, text, bigint, text, text, interval);
DROP FUNCTION IF EXISTS rfc3339(timestamptz);
DROP TABLE dead_letters;
DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE ledger_entries;
DROP TABLE payments;
DROP TABLE balances;
DROP TABLE accounts;
DROP DOMAIN currency_code;
DROP DOMAIN ulid;
