-- The ledger's write path: lib/ledger/pg-ledger-store.ts calls it once per
-- AuthorizePayment, with named arguments (`p_payer => …`). Applied by migrate
-- after the migrations (CREATE OR REPLACE), so changing it is an edit of this
-- file, not a new migration. A new parameter gets a default, so callers that
-- do not pass it keep working; any other change of its signature must DROP the
-- old one first, in this file.

-- One round trip per payment. Everything the payment touches happens here, in
-- the caller's single transaction: idempotency record, the payment row and the
-- outbox event (before any balance lock), then both balances, updated in
-- account id order with the funds check in the debit's WHERE, and both
-- entries (move_funds, 015).
--
-- outcome: NEW (this call decided), REPLAY (same key of the same owner, same
-- request: the original outcome) or KEY_CONFLICT (same key of the same owner,
-- different request; nothing written). Keys are scoped to p_owner, the caller
-- (the token subject; '' for in-process callers without one): two owners never
-- see or block each other's keys.
--
-- p_deadline: when the caller stops waiting (NULL: never; 012_call_deadline.sql).
-- Lock waits give up then, and a payment decided after it is rolled back
-- instead of committed, so a call the client abandoned moves no money. An
-- instant, not a budget: time the statement spent queued in a transaction-mode
-- pooler (PgBouncer waiting for a server connection, RDS Proxy borrowing one)
-- counts against it.
--
-- p_traceparent: the W3C traceparent of the api's span for this call, stored
-- with the outbox event so its Kafka message continues the caller's trace.
--
-- p_hold_for: NULL moves the money at once. Set, the payment is a hold: the
-- same checks, then the amount is reserved on the payer (balances.pending)
-- instead of moved, a holds row keeps its state until capture_payment,
-- void_payment or expire_holds ends it, and its event is PaymentHeld. The
-- payment row says AUTHORIZED either way (the checks passed); status HELD is
-- what this returns for a new hold.

-- Signatures of this release's earlier builds (never shipped); the previous
-- release's own signature is 021's shim.
DROP FUNCTION IF EXISTS authorize_payment(text, text, text, text, text, text, text, text, bigint, text, text, interval, text, integer);
DROP FUNCTION IF EXISTS authorize_payment(text, text, text, text, text, text, text, text, bigint, text, text, interval, text, integer, text);
DROP FUNCTION IF EXISTS authorize_payment(text, text, text, text, text, text, text, text, bigint, text, text, interval, text, integer, text, timestamptz);
DROP FUNCTION IF EXISTS authorize_payment(text, text, text, text, text, text, text, interval, text, text, bigint, text, text, timestamptz, text);
CREATE OR REPLACE FUNCTION authorize_payment(
  p_payment_id       text,
  p_event_id         text,
  p_debit_entry_id   text,
  p_credit_entry_id  text,
  p_owner            text,
  p_idempotency_key  text,
  p_request_hash     text,
  p_key_ttl          interval,
  p_payer            text,
  p_payee            text,
  p_amount           bigint,
  p_currency         text,
  p_description      text,
  p_deadline         timestamptz DEFAULT NULL,
  p_traceparent      text DEFAULT NULL,
  p_hold_for         interval DEFAULT NULL
) RETURNS TABLE (outcome text, payment_id text, status text, error_code text, error_message text,
                 processed_at timestamptz, hold_expires_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  v_now        timestamptz := now();
  v_claim      record;
  v_moved      boolean := false;
  v_expires_at timestamptz := v_now + p_hold_for;
  v_payer      balances%ROWTYPE;
  v_payee      balances%ROWTYPE;
  v_status     text := 'AUTHORIZED';
  v_code       text;
  v_message    text;
  v_in_time    boolean;
BEGIN
  v_in_time := ledger_call_may_start(p_deadline);

  -- One payment per key of one owner (019).
  v_claim := claim_idempotency_key(p_owner, p_idempotency_key, p_request_hash, p_payment_id, NULL, v_now, p_key_ttl);
  IF NOT v_claim.claimed THEN
    IF v_claim.prev_hash <> p_request_hash THEN
      RETURN QUERY SELECT 'KEY_CONFLICT'::text, v_claim.prev_payment_id, NULL::text, NULL::text, NULL::text,
                          NULL::timestamptz, NULL::timestamptz;
      RETURN;
    END IF;
    -- The casts keep RETURN QUERY's exact types when a column becomes a
    -- domain (as 1734000000000 did to others): a domain is not its base type there.
    RETURN QUERY SELECT 'REPLAY'::text, p.id::text, p.status::text, p.error_code::text, p.error_message, p.created_at,
                        h.expires_at
      FROM payments p LEFT JOIN holds h ON h.payment_id = p.id WHERE p.id = v_claim.prev_payment_id;
    RETURN;
  END IF;

  -- Written as authorized before any balance lock is taken, and corrected in
  -- the rare decline: what the locks cover stays as short as it can. One
  -- statement with the event (a data-modifying WITH runs to completion): a
  -- query less.
  WITH payment AS (
    INSERT INTO payments (id, idempotency_key, payer_account_id, payee_account_id, amount, currency,
                          description, status, created_at, updated_at)
    VALUES (p_payment_id, p_idempotency_key, p_payer, p_payee, p_amount, p_currency,
            p_description, 'AUTHORIZED', v_now, v_now)
  )
  -- The event is a contract, the replaced system's: schemas/payment_authorized.json
  -- and payment_declined.json define its aggregate_type, event_type and payload
  -- (the TypeScript types are generated from them), and the drain refuses a row
  -- that breaks them. tests/integration/events.test.ts checks that what this
  -- writes validates. The envelope's timestamp is the row's created_at.
  -- A hold's event is PaymentHeld (schemas/payment_held.json).
  INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, next_attempt_at, traceparent)
  VALUES (p_event_id, 'Payment', p_payment_id,
    CASE WHEN p_hold_for IS NULL THEN 'PaymentAuthorized' ELSE 'PaymentHeld' END,
    jsonb_build_object(
      'payment_id', p_payment_id,
      'payer_account_id', p_payer,
      'payee_account_id', p_payee,
      'amount_cents', p_amount,
      'currency', p_currency,
      'description', p_description)
    || CASE WHEN p_hold_for IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('expires_at', rfc3339(v_expires_at)) END,
    v_now, v_now, p_traceparent);

  IF p_payer = p_payee THEN
    v_status := 'DECLINED'; v_code := 'SAME_ACCOUNT';
    v_message := 'payer and payee are the same account';
  ELSE
    IF p_hold_for IS NULL THEN
      v_moved := move_funds(p_payment_id, p_debit_entry_id, p_credit_entry_id, p_payer, p_payee,
                            p_amount, p_currency, p_amount, v_now) IS NOT NULL;
    -- A hold locks only the payer's row: nothing is credited yet, the payee
    -- need only be able to receive the currency when it is captured.
    ELSIF EXISTS (SELECT 1 FROM balances b WHERE b.account_id = p_payee AND b.currency = p_currency) THEN
      -- What the payer can spend: its posted balance less what its holds reserve.
      UPDATE balances b SET pending = b.pending + p_amount, updated_at = v_now
       WHERE b.account_id = p_payer AND b.currency = p_currency AND NOT b.hot
         AND (b.allow_negative OR b.available - b.pending >= p_amount);
      v_moved := FOUND;
      IF NOT v_moved THEN
        v_moved := take_hot_funds(p_payer, p_currency, 0, p_amount, p_amount, v_now) IS NOT NULL;
      END IF;
      IF v_moved THEN
        INSERT INTO holds (payment_id, payer_account_id, amount, expires_at)
        VALUES (p_payment_id, p_payer, p_amount, v_expires_at);
      END IF;
    END IF;
    IF NOT v_moved THEN
      -- Why it was refused. The payer is the caller's own account (the api's
      -- access policy admits no other), so everything about it may be said.
      -- The payee is usually another owner's: all the caller may learn of it
      -- is whether it can receive this currency. Missing, or in another
      -- currency, it is one outcome, code and text alike, and the payer's own
      -- checks come first so their order reveals nothing either: a payer in
      -- the wrong currency is CURRENCY_MISMATCH, and a payer short of funds is
      -- INSUFFICIENT_FUNDS, only when the payee could have received.
      SELECT * INTO v_payer FROM balances b WHERE b.account_id = p_payer;
      SELECT * INTO v_payee FROM balances b WHERE b.account_id = p_payee;
      IF v_payer.account_id IS NULL THEN
        -- Only in-process callers get here (the api refuses an unknown payer
        -- PERMISSION_DENIED before the ledger is reached).
        v_status := 'DECLINED'; v_code := 'ACCOUNT_NOT_FOUND';
        v_message := format('payer account %s not found', p_payer);
      ELSIF v_payer.currency <> p_currency THEN
        v_status := 'DECLINED'; v_code := 'CURRENCY_MISMATCH';
        v_message := format('payment is in %s, payer account in %s', p_currency, v_payer.currency);
      ELSIF v_payee.account_id IS NULL OR v_payee.currency <> p_currency THEN
        v_status := 'DECLINED'; v_code := 'ACCOUNT_NOT_FOUND';
        v_message := format('payee account cannot receive payments in %s', p_currency);
      ELSE
        v_status := 'DECLINED'; v_code := 'INSUFFICIENT_FUNDS';
        v_message := 'payer account has insufficient funds';
      END IF;
    END IF;
  END IF;

  IF v_status = 'DECLINED' THEN
    UPDATE payments SET status = 'DECLINED', error_code = v_code, error_message = v_message
      WHERE id = p_payment_id;
    UPDATE outbox SET event_type = 'PaymentDeclined', payload = jsonb_build_object(
      'payment_id', p_payment_id,
      'payer_account_id', p_payer,
      'payee_account_id', p_payee,
      'amount_cents', p_amount,
      'currency', p_currency,
      'error_code', v_code,
      'error_message', v_message)
      WHERE id = p_event_id;
  END IF;

  v_in_time := ledger_call_may_end(p_deadline);
  -- The result row by assignment and RETURN NEXT: expressions, where RETURN
  -- QUERY would run a query.
  outcome := 'NEW';
  payment_id := p_payment_id;
  processed_at := v_now;
  IF v_status = 'AUTHORIZED' AND p_hold_for IS NOT NULL THEN
    status := 'HELD';
    hold_expires_at := v_expires_at;
  ELSE
    status := v_status;
    error_code := v_code;
    error_message := v_message;
  END IF;
  RETURN NEXT;
END;
$$;
