-- The previous release's signature of authorize_payment (no owner, no time
-- budget), kept for one release so that api still works while this release
-- rolls out: its keys are scoped to the payer account's owner, which for a
-- customer is the caller (the access policy lets only the owner debit an
-- account). Remove this file, and DROP this signature here, in the release
-- after the one that introduced owner-scoped keys.
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
LANGUAGE sql AS $$
  SELECT * FROM authorize_payment(
    p_payment_id => p_payment_id, p_event_id => p_event_id,
    p_debit_entry_id => p_debit_entry_id, p_credit_entry_id => p_credit_entry_id,
    p_owner => coalesce((SELECT a.owner FROM accounts a WHERE a.id = p_payer), ''),
    p_idempotency_key => p_idempotency_key, p_request_hash => p_request_hash, p_key_ttl => p_key_ttl,
    p_payer => p_payer, p_payee => p_payee, p_amount => p_amount, p_currency => p_currency,
    p_description => p_description)
$$;
