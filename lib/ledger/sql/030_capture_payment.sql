-- CapturePayment, one round trip: lib/ledger/pg-ledger-store.ts calls it with
-- named arguments. Posts p_amount (0: all of it) of a HELD payment from payer
-- to payee and releases the rest of the hold, in one transaction.
--
-- Exactly one of capture, void and expiry ends a hold: each takes the hold's
-- row lock and decides on the state it finds, so whoever comes second sees
-- the first one's outcome. A hold is captured only before its expires_at
-- (compared with the transaction's start); one found past it is expired here,
-- as expire_holds would, and the capture declined.
--
-- outcome: NEW (this call decided), REPLAY (same key of the same owner, same
-- request: the capture it made) or KEY_CONFLICT (nothing written). A
-- declined capture (status DECLINED, error_code a HoldErrorCode) keeps
-- nothing, its idempotency key included: the hold's state alone decides, so
-- asking again gets the same answer.
CREATE OR REPLACE FUNCTION capture_payment(
  p_payment_id       text,
  p_event_id         text,
  p_debit_entry_id   text,
  p_credit_entry_id  text,
  p_owner            text,
  p_idempotency_key  text,
  p_request_hash     text,
  p_key_ttl          interval,
  p_amount           bigint,
  p_deadline         timestamptz DEFAULT NULL,
  p_traceparent      text DEFAULT NULL
) RETURNS TABLE (outcome text, payment_id text, status text, error_code text, error_message text,
                 captured_amount bigint, released_amount bigint, processed_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  v_now       timestamptz := now();
  v_claim     record;
  v_hold      holds%ROWTYPE;
  v_payment   payments%ROWTYPE;
  v_amount    bigint;
  v_code      text;
  v_message   text;
  v_in_time   boolean;
BEGIN
  v_in_time := ledger_call_may_start(p_deadline);

  -- One capture per key of one owner (019).
  v_claim := claim_idempotency_key(p_owner, p_idempotency_key, p_request_hash, p_payment_id, NULL, v_now, p_key_ttl);
  IF NOT v_claim.claimed THEN
    IF v_claim.prev_hash <> p_request_hash THEN
      RETURN QUERY SELECT 'KEY_CONFLICT'::text, v_claim.prev_payment_id, NULL::text, NULL::text, NULL::text,
                          NULL::bigint, NULL::bigint, NULL::timestamptz;
      RETURN;
    END IF;
    -- Only a capture that was made keeps its key: this one's.
    RETURN QUERY SELECT 'REPLAY'::text, h.payment_id::text, h.state, NULL::text, NULL::text,
                        h.captured_amount, h.amount - h.captured_amount, h.settled_at
      FROM holds h WHERE h.payment_id = p_payment_id;
    RETURN;
  END IF;

  SELECT * INTO v_hold FROM holds h WHERE h.payment_id = p_payment_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    v_code := 'NOT_A_HOLD';
    v_message := format('payment %s was never held: there is nothing to capture', p_payment_id);
  ELSIF v_hold.state = 'CAPTURED' THEN
    v_code := 'CAPTURED';
    v_message := format('payment %s was captured already', p_payment_id);
  ELSIF v_hold.state = 'VOIDED' THEN
    v_code := 'VOIDED';
    v_message := format('payment %s was voided', p_payment_id);
  ELSIF v_hold.state = 'EXPIRED' OR v_hold.expires_at <= v_now THEN
    IF v_hold.state = 'HELD' THEN
      PERFORM release_holds(ARRAY[p_payment_id], ARRAY[p_event_id], 'EXPIRED', v_now, p_traceparent);
    END IF;
    v_code := 'EXPIRED';
    v_message := format('the hold of payment %s expired at %s', p_payment_id, rfc3339(v_hold.expires_at));
  ELSE
    v_amount := coalesce(nullif(p_amount, 0), v_hold.amount);
    IF v_amount > v_hold.amount THEN
      v_code := 'EXCEEDS_HOLD';
      v_message := format('%s is more than the %s held', v_amount, v_hold.amount);
    END IF;
  END IF;

  IF v_code IS NOT NULL THEN
    DELETE FROM idempotency_keys k WHERE k.owner = p_owner AND k.key = p_idempotency_key;
    v_in_time := ledger_call_may_end(p_deadline);
    RETURN QUERY SELECT 'NEW'::text, p_payment_id, 'DECLINED'::text, v_code, v_message,
                        NULL::bigint, NULL::bigint, v_now;
    RETURN;
  END IF;

  -- Under the hold's lock, the payer's reservation covers the capture: no
  -- funds check, and the payee received this currency when the hold was made.
  SELECT * INTO v_payment FROM payments p WHERE p.id = p_payment_id;
  IF move_funds(p_payment_id, p_debit_entry_id, p_credit_entry_id,
                v_payment.payer_account_id, v_payment.payee_account_id, v_amount, v_payment.currency,
                NULL, v_now, p_release => v_hold.amount) IS NULL THEN
    RAISE EXCEPTION 'the capture of payment % found no balance to move it between', p_payment_id;
  END IF;
  UPDATE holds h SET state = 'CAPTURED', captured_amount = v_amount, settled_at = v_now
   WHERE h.payment_id = p_payment_id;
  -- The contract: schemas/payment_captured.json.
  INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, next_attempt_at, traceparent)
  VALUES (p_event_id, 'Payment', p_payment_id, 'PaymentCaptured', jsonb_build_object(
    'payment_id', p_payment_id,
    'payer_account_id', v_payment.payer_account_id,
    'payee_account_id', v_payment.payee_account_id,
    'amount_cents', v_amount,
    'currency', v_payment.currency,
    'released_amount_cents', v_hold.amount - v_amount), v_now, v_now, p_traceparent);

  v_in_time := ledger_call_may_end(p_deadline);
  RETURN QUERY SELECT 'NEW'::text, p_payment_id, 'CAPTURED'::text, NULL::text, NULL::text,
                      v_amount, v_hold.amount - v_amount, v_now;
END;
$$;
