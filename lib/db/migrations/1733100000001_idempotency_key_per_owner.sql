-- Up Migration

-- Contract: a key is unique per owner only. Safe while the previous release
-- still runs because that release reaches this table through
-- authorize_payment's old signature alone, which this release replaces with a
-- shim onto the owner-scoped function (lib/ledger/sql/021_...). Between this
-- migration and the function files (applied right after, by the same migrate
-- run) the old signature's body still names the dropped key: such a call
-- fails and writes nothing, and its retry with the same key is safe.

-- Rows the previous release wrote since the expand migration.
UPDATE idempotency_keys k
SET owner = coalesce(a.owner, '')
FROM payments p LEFT JOIN accounts a ON a.id = p.payer_account_id
WHERE p.id = k.payment_id AND k.owner IS NULL;
UPDATE idempotency_keys SET owner = '' WHERE owner IS NULL;

ALTER TABLE idempotency_keys ALTER COLUMN owner SET NOT NULL;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY USING INDEX idempotency_keys_owner_key;

-- Down Migration

-- Fails if two owners hold the same key: then there is no global key to go back to.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (key);
CREATE UNIQUE INDEX idempotency_keys_owner_key ON idempotency_keys (owner, key);
ALTER TABLE idempotency_keys ALTER COLUMN owner DROP NOT NULL;
