-- VoidPayment, one round trip: releases a HELD payment's reservation under
-- the hold's row lock (see 030 for why exactly one of capture, void and
-- expiry ends a hold). No idempotency key: voiding is idempotent by nature,
-- so a hold found VOIDED answers VOIDED again (outcome REPLAY, the first
-- void's time) and writes nothing. A hold found captured, expired or past its
-- expiry (expired here, as expire_holds would) is declined with a
-- HoldErrorCode; nothing of the void is written.
CREATE OR REPLACE FUNCTION void_payment(
  p_payment_id   text,
  p_event_id     text,
  p_deadline     timestamptz DEFAULT NULL,
  p_traceparent  text DEFAULT NULL
) RETURNS TABLE (outcome text, status text, error_code text, error_message text,
                 released_amount bigint, processed_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  v_now     timestamptz := now();
  v_hold    holds%ROWTYPE;
  v_code    text;
  v_message text;
  v_in_time boolean;
BEGIN
  v_in_time := ledger_call_may_start(p_deadline);

  SELECT * INTO v_hold FROM holds h WHERE h.payment_id = p_payment_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    v_code := 'NOT_A_HOLD';
    v_message := format('payment %s was never held: there is nothing to void', p_payment_id);
  ELSIF v_hold.state = 'VOIDED' THEN
    -- ::bigint: RETURN QUERY demands the declared type exactly, and holds.amount may become a domain.
    RETURN QUERY SELECT 'REPLAY'::text, 'VOIDED'::text, NULL::text, NULL::text, v_hold.amount::bigint, v_hold.settled_at;
    RETURN;
  ELSIF v_hold.state = 'CAPTURED' THEN
    v_code := 'CAPTURED';
    v_message := format('payment %s was captured: refund it instead', p_payment_id);
  ELSIF v_hold.state = 'EXPIRED' OR v_hold.expires_at <= v_now THEN
    IF v_hold.state = 'HELD' THEN
      PERFORM release_holds(ARRAY[p_payment_id], ARRAY[p_event_id], 'EXPIRED', v_now, p_traceparent);
    END IF;
    v_code := 'EXPIRED';
    v_message := format('the hold of payment %s expired at %s', p_payment_id, rfc3339(v_hold.expires_at));
  ELSE
    PERFORM release_holds(ARRAY[p_payment_id], ARRAY[p_event_id], 'VOIDED', v_now, p_traceparent);
  END IF;

  v_in_time := ledger_call_may_end(p_deadline);
  IF v_code IS NOT NULL THEN
    RETURN QUERY SELECT 'NEW'::text, 'DECLINED'::text, v_code, v_message, NULL::bigint, v_now;
  ELSE
    RETURN QUERY SELECT 'NEW'::text, 'VOIDED'::text, NULL::text, NULL::text, v_hold.amount::bigint, v_now;
  END IF;
END;
$$;
