-- RefundPayment, one round trip: moves p_amount back from a payment's payee
-- to its payer, in one transaction. Refunds of one payment are serialised on
-- its payment row's lock (refunded_amount lives there), so together they
-- never exceed what moved: the amount of an AUTHORIZED payment, or what its
-- hold's capture posted.
--
-- outcome: NEW, REPLAY (same key of the same owner, same request: the
-- original refund, REFUNDED or DECLINED), KEY_CONFLICT or NOT_FOUND (no such
-- payment; only in-process callers get here, the api refuses first). Checked
-- in this order, the first that fails is the decline, recorded as a refund
-- with its event like a success:
--   NOT_CAPTURED        the payment moved no money
--   EXCEEDS_REFUNDABLE  more than moved less what was refunded
--   INSUFFICIENT_FUNDS  the payee cannot spend that much (its posted balance
--                       less what its holds reserve)
CREATE OR REPLACE FUNCTION refund_payment(
  p_refund_id        text,
  p_event_id         text,
  p_debit_entry_id   text,
  p_credit_entry_id  text,
  p_owner            text,
  p_idempotency_key  text,
  p_request_hash     text,
  p_key_ttl          interval,
  p_payment_id       text,
  p_amount           bigint,
  p_description      text,
  p_deadline         timestamptz DEFAULT NULL,
  p_traceparent      text DEFAULT NULL
) RETURNS TABLE (outcome text, refund_id text, status text, error_code text, error_message text,
                 processed_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  v_now       timestamptz := now();
  v_claim     record;
  v_payment   payments%ROWTYPE;
  v_moved     bigint;
  v_status    text := 'REFUNDED';
  v_code      text;
  v_message   text;
  v_in_time   boolean;
BEGIN
  v_in_time := ledger_call_may_start(p_deadline);

  -- One refund per key of one owner (019). A key held by a payment or a
  -- capture is named by its payment.
  v_claim := claim_idempotency_key(p_owner, p_idempotency_key, p_request_hash, p_payment_id, p_refund_id, v_now,
                                   p_key_ttl);
  IF NOT v_claim.claimed THEN
    IF v_claim.prev_hash <> p_request_hash THEN
      -- status says what refund_id is, so the caller's error can name it.
      RETURN QUERY SELECT 'KEY_CONFLICT'::text, coalesce(v_claim.prev_refund_id, v_claim.prev_payment_id),
                          CASE WHEN v_claim.prev_refund_id IS NOT NULL THEN 'REFUND' ELSE 'PAYMENT' END,
                          NULL::text, NULL::text, NULL::timestamptz;
      RETURN;
    END IF;
    RETURN QUERY SELECT 'REPLAY'::text, r.id::text, r.status, r.error_code, r.error_message, r.created_at
      FROM refunds r WHERE r.id = v_claim.prev_refund_id;
    RETURN;
  END IF;

  SELECT * INTO v_payment FROM payments p WHERE p.id = p_payment_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    DELETE FROM idempotency_keys k WHERE k.owner = p_owner AND k.key = p_idempotency_key;
    RETURN QUERY SELECT 'NOT_FOUND'::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz;
    RETURN;
  END IF;

  -- What moved: a hold's capture, or the payment itself when it was no hold.
  v_moved := CASE WHEN v_payment.status <> 'AUTHORIZED' THEN 0
                  ELSE coalesce((SELECT coalesce(h.captured_amount, 0) FROM holds h WHERE h.payment_id = p_payment_id),
                                v_payment.amount) END;
  IF v_moved = 0 THEN
    v_status := 'DECLINED'; v_code := 'NOT_CAPTURED';
    v_message := format('payment %s moved no money: there is nothing to refund', p_payment_id);
  ELSIF p_amount > v_moved - v_payment.refunded_amount THEN
    v_status := 'DECLINED'; v_code := 'EXCEEDS_REFUNDABLE';
    v_message := format('at most %s of the %s paid can still be refunded',
                        v_moved - v_payment.refunded_amount, v_moved);
  END IF;

  -- The refund row before its entries (their foreign key): refunded, unless
  -- the move is refused below.
  INSERT INTO refunds (id, payment_id, amount, description, status, error_code, error_message, created_at)
  VALUES (p_refund_id, p_payment_id, p_amount, p_description, v_status, v_code, v_message, v_now);
  IF v_status = 'REFUNDED' THEN
    -- The payee pays it back: it is debited, the payer credited, if the payee
    -- can spend that much (its posted balance less what its holds reserve).
    IF move_funds(p_payment_id, p_debit_entry_id, p_credit_entry_id,
                  v_payment.payee_account_id, v_payment.payer_account_id, p_amount, v_payment.currency,
                  p_amount, v_now, p_refund_id => p_refund_id) IS NULL THEN
      v_status := 'DECLINED'; v_code := 'INSUFFICIENT_FUNDS';
      v_message := 'payee account has insufficient funds for this refund';
      UPDATE refunds r SET status = v_status, error_code = v_code, error_message = v_message
       WHERE r.id = p_refund_id;
    ELSE
      UPDATE payments p SET refunded_amount = p.refunded_amount + p_amount, updated_at = v_now
       WHERE p.id = p_payment_id;
    END IF;
  END IF;

  -- The contract: schemas/payment_refunded.json and payment_refund_declined.json.
  INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, next_attempt_at, traceparent)
  VALUES (p_event_id, 'Payment', p_payment_id,
    CASE v_status WHEN 'REFUNDED' THEN 'PaymentRefunded' ELSE 'PaymentRefundDeclined' END,
    jsonb_build_object(
      'payment_id', p_payment_id,
      'refund_id', p_refund_id,
      'payer_account_id', v_payment.payer_account_id,
      'payee_account_id', v_payment.payee_account_id,
      'amount_cents', p_amount,
      'currency', v_payment.currency)
    || CASE v_status
         WHEN 'REFUNDED' THEN jsonb_build_object(
           'refunded_amount_cents', v_payment.refunded_amount + p_amount,
           'description', p_description)
         ELSE jsonb_build_object('error_code', v_code, 'error_message', v_message) END,
    v_now, v_now, p_traceparent);

  v_in_time := ledger_call_may_end(p_deadline);
  RETURN QUERY SELECT 'NEW'::text, p_refund_id, v_status, v_code, v_message, v_now;
END;
$$;
