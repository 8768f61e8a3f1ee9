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

CREATE FUNCTION rfc3339(ts timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- One round trip per payment. Everything the payment touches happens here, in
-- the caller's single transaction: idempotency record, row locks in account id
-- order (so opposite-direction transfers never deadlock), the decision, the
-- payment row, both entries, both balances and the outbox event.
--
-- outcome: NEW (this call decided), REPLAY (same key, same request: the
-- original outcome) or KEY_CONFLICT (same key, different request; nothing
-- written).
CREATE FUNCTION authorize_payment(
  p_payment_id       text,
  p_event_id         text,
  p_debit_entry_id   text,
  p_credit_entry_id  text,
  p_idempotency_key  text,
  p_request_hash     text,
  p_payer            text,
  p_payee            text,
  p_amount           bigint,
  p_currency         text,
  p_description      text,
  p_key_ttl          interval
) RETURNS TABLE (outcome text, payment_id text, status text, error_code text, error_message text, processed_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  v_now        timestamptz := now();
  v_claimed    text;
  v_prev_hash  text;
  v_prev_id    text;
  v_payer      balances%ROWTYPE;
  v_payee      balances%ROWTYPE;
  v_status     text := 'AUTHORIZED';
  v_code       text;
  v_message    text;
  v_payer_after bigint;
  v_payee_after bigint;
BEGIN
  -- A concurrent request with the same key waits here on the key's unique
  -- index until the first one commits, then sees its row: one payment per key.
  INSERT INTO idempotency_keys AS k (key, request_hash, payment_id, created_at, expires_at)
  VALUES (p_idempotency_key, p_request_hash, p_payment_id, v_now, v_now + p_key_ttl)
  ON CONFLICT (key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, payment_id = EXCLUDED.payment_id,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
    WHERE k.expires_at <= EXCLUDED.created_at
  RETURNING k.payment_id INTO v_claimed;

  IF v_claimed IS NULL THEN
    SELECT k.request_hash, k.payment_id INTO v_prev_hash, v_prev_id
      FROM idempotency_keys k WHERE k.key = p_idempotency_key;
    IF v_prev_hash <> p_request_hash THEN
      RETURN QUERY SELECT 'KEY_CONFLICT'::text, v_prev_id, NULL::text, NULL::text, NULL::text, NULL::timestamptz;
      RETURN;
    END IF;
    RETURN QUERY SELECT 'REPLAY'::text, p.id::text, p.status, p.error_code, p.error_message, p.created_at
      FROM payments p WHERE p.id = v_prev_id;
    RETURN;
  END IF;

  -- Written as authorized before any account lock is taken, and corrected in
  -- the rare decline: what a hot account's lock covers stays as short as it can.
  INSERT INTO payments (id, idempotency_key, payer_account_id, payee_account_id, amount, currency,
                        description, status, created_at, updated_at)
  VALUES (p_payment_id, p_idempotency_key, p_payer, p_payee, p_amount, p_currency,
          p_description, 'AUTHORIZED', v_now, v_now);
  INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, next_attempt_at)
  VALUES (p_event_id, 'payment', p_payment_id, 'PaymentAuthorized', jsonb_build_object(
    'payment_id', p_payment_id,
    'payer_account_id', p_payer,
    'payee_account_id', p_payee,
    'amount_cents', p_amount,
    'currency', p_currency,
    'description', p_description,
    'authorized_at', rfc3339(v_now)), v_now, v_now);

  IF p_payer = p_payee THEN
    v_status := 'DECLINED'; v_code := 'SAME_ACCOUNT';
    v_message := 'payer and payee are the same account';
  ELSE
    -- Each UPDATE locks its row; taking them in account id order means two
    -- payments in opposite directions never wait on each other in a cycle.
    -- The debit's WHERE is the funds check, so the common case is two
    -- statements with no separate read. A refused move is undone in place
    -- (rare, and invisible to everyone else until commit).
    IF p_payer < p_payee THEN
      UPDATE balances SET available = available - p_amount, updated_at = v_now
        WHERE account_id = p_payer AND currency = p_currency AND (allow_negative OR available >= p_amount)
        RETURNING available INTO v_payer_after;
      IF v_payer_after IS NOT NULL THEN
        UPDATE balances SET available = available + p_amount, updated_at = v_now
          WHERE account_id = p_payee AND currency = p_currency
          RETURNING available INTO v_payee_after;
        IF v_payee_after IS NULL THEN
          UPDATE balances SET available = available + p_amount WHERE account_id = p_payer;
        END IF;
      END IF;
    ELSE
      UPDATE balances SET available = available + p_amount, updated_at = v_now
        WHERE account_id = p_payee AND currency = p_currency
        RETURNING available INTO v_payee_after;
      IF v_payee_after IS NOT NULL THEN
        UPDATE balances SET available = available - p_amount, updated_at = v_now
          WHERE account_id = p_payer AND currency = p_currency AND (allow_negative OR available >= p_amount)
          RETURNING available INTO v_payer_after;
        IF v_payer_after IS NULL THEN
          UPDATE balances SET available = available - p_amount WHERE account_id = p_payee;
        END IF;
      END IF;
    END IF;

    IF v_payer_after IS NULL OR v_payee_after IS NULL THEN
      SELECT * INTO v_payer FROM balances WHERE account_id = p_payer;
      SELECT * INTO v_payee FROM balances WHERE account_id = p_payee;
      IF v_payer.account_id IS NULL THEN
        v_status := 'DECLINED'; v_code := 'ACCOUNT_NOT_FOUND';
        v_message := format('payer account %s not found', p_payer);
      ELSIF v_payee.account_id IS NULL THEN
        v_status := 'DECLINED'; v_code := 'ACCOUNT_NOT_FOUND';
        v_message := format('payee account %s not found', p_payee);
      ELSIF v_payer.currency <> p_currency OR v_payee.currency <> p_currency THEN
        v_status := 'DECLINED'; v_code := 'CURRENCY_MISMATCH';
        v_message := format('payment is in %s, payer account in %s, payee account in %s',
                            p_currency, v_payer.currency, v_payee.currency);
      ELSE
        -- The debit's funds check refused it (a credit arriving since then
        -- does not change that decision).
        v_status := 'DECLINED'; v_code := 'INSUFFICIENT_FUNDS';
        v_message := 'payer account has insufficient funds';
      END IF;
    END IF;
  END IF;

  IF v_status = 'AUTHORIZED' THEN
    INSERT INTO ledger_entries (id, payment_id, account_id, amount, currency, balance_after, created_at)
    VALUES (p_debit_entry_id, p_payment_id, p_payer, -p_amount, p_currency, v_payer_after, v_now),
           (p_credit_entry_id, p_payment_id, p_payee, p_amount, p_currency, v_payee_after, v_now);
  ELSE
    UPDATE payments SET status = 'DECLINED', error_code = v_code, error_message = v_message
      WHERE id = p_payment_id;
    UPDATE outbox SET event_type = 'PaymentDeclined', payload = jsonb_build_object(
      'payment_id', p_payment_id,
      'payer_account_id', p_payer,
      'payee_account_id', p_payee,
      'amount_cents', p_amount,
      'currency', p_currency,
      'reason_code', v_code,
      'reason', v_message,
      'declined_at', rfc3339(v_now))
      WHERE id = p_event_id;
  END IF;

  RETURN QUERY SELECT 'NEW'::text, p_payment_id, v_status, v_code, v_message, v_now;
END;
$$;

-- Down Migration

DROP FUNCTION authorize_payment(text, text, text, text, text, text, text, text, bigint, text, text, interval);
DROP FUNCTION rfc3339(timestamptz);
DROP TABLE dead_letters;
DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE ledger_entries;
DROP TABLE payments;
DROP TABLE balances;
DROP TABLE accounts;
DROP DOMAIN currency_code;
DROP DOMAIN ulid;
