-- The previous release's signature of authorize_payment (positional: no
-- owner, no deadline), kept so that release's api keeps working against this
-- release's database while the deploy rolls out: migrate runs first
-- (scripts/deploy.sh), and the stack deploy replaces the api after it.
--
-- Its keys are scoped to the payer account's owner, which for a customer is
-- the caller (the access policy lets only the owner debit an account).
--
-- It writes the event in the previous release's shape, because that
-- release's drain is still the one running: aggregate_type 'payment',
-- PaymentAuthorized with authorized_at, PaymentDeclined with reason_code,
-- reason and declined_at. This release's drain reads that shape into the
-- contract (lib/events/legacy.ts), so whichever drain sends it, the event
-- arrives valid.
--
-- Remove this file, and DROP this signature here, in the next release.
CREATE OR REPLACE FUNCTION authorize_payment(
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
  v_result record;
BEGIN
  SELECT * INTO v_result FROM authorize_payment(
    p_payment_id => p_payment_id, p_event_id => p_event_id,
    p_debit_entry_id => p_debit_entry_id, p_credit_entry_id => p_credit_entry_id,
    p_owner => coalesce((SELECT a.owner FROM accounts a WHERE a.id = p_payer), ''),
    p_idempotency_key => p_idempotency_key, p_request_hash => p_request_hash, p_key_ttl => p_key_ttl,
    p_payer => p_payer, p_payee => p_payee, p_amount => p_amount, p_currency => p_currency,
    p_description => p_description);
  IF v_result.outcome = 'NEW' THEN
    UPDATE outbox o
       SET aggregate_type = 'payment',
           payload = CASE o.event_type
             WHEN 'PaymentAuthorized' THEN
               o.payload || jsonb_build_object('authorized_at', rfc3339(o.created_at))
             ELSE
               (o.payload - 'error_code' - 'error_message') || jsonb_build_object(
                 'reason_code', o.payload -> 'error_code',
                 'reason', o.payload -> 'error_message',
                 'declined_at', rfc3339(o.created_at))
           END
     WHERE o.id = p_event_id;
  END IF;
  RETURN QUERY SELECT v_result.outcome, v_result.payment_id, v_result.status, v_result.error_code,
                      v_result.error_message, v_result.processed_at;
END;
$$;
