-- Up Migration

-- Expand: idempotency keys get an owner (the caller who used them), so two
-- owners can use the same key. Nothing the previous release does is changed:
-- its global unique key stays until the contract migration that follows.
--
-- Existing keys are backfilled with their payment's payer account owner: for
-- a customer that is the caller, who alone may debit the account. Keys an
-- operator used to pay from a system account get that account's nominal
-- owner, so an operator's retry of such a key within its TTL (24 h by
-- default) after this release is a new payment under the operator's own
-- scope; let operator funding keys expire before retrying them. Keys whose
-- payer account never existed get '' (in-process callers' scope).
ALTER TABLE idempotency_keys ADD COLUMN owner text;

UPDATE idempotency_keys k
SET owner = coalesce(a.owner, '')
FROM payments p LEFT JOIN accounts a ON a.id = p.payer_account_id
WHERE p.id = k.payment_id AND k.owner IS NULL;
UPDATE idempotency_keys SET owner = '' WHERE owner IS NULL;

CREATE UNIQUE INDEX idempotency_keys_owner_key ON idempotency_keys (owner, key);

-- Down Migration

DROP INDEX idempotency_keys_owner_key;
ALTER TABLE idempotency_keys DROP COLUMN owner;
