-- The idempotency claim of authorize_payment (020), capture_payment (030) and
-- refund_payment (032), in one place: each calls it first, in its own
-- transaction, and decides what to answer from what it returns.
--
-- Keys are scoped to p_owner, the caller (the token subject; '' for
-- in-process callers without one): two owners never see or block each
-- other's keys, and what this returns of a key's earlier use is always the
-- caller's own. The three calls share one scope per owner; their request
-- hashes start differently (lib/payments/request-hash.ts), so a key used by
-- one call is a conflict for another.
--
-- claimed: the key is this call's now, either new or taken over from a use
-- whose key had expired (expires_at passed, not yet deleted by retention).
-- A takeover writes every column but owner and key, each as a new key would
-- have it: nothing of the earlier use (another call's refund_id, say)
-- survives to be named by a later conflict or replay. A column added to
-- idempotency_keys is added to both lists below.
--
-- Not claimed: the key is held by an unexpired use, and prev_* say which
-- (request hash, payment and refund). A concurrent claim of the same owner
-- and key waits on the unique index until the first commits, then finds its
-- row here: one outcome per key. The conflicting row stays locked (ON
-- CONFLICT DO UPDATE locks it even when its WHERE refuses the update), so
-- retention cannot delete it before this reads it.
--
-- This release's 020, 030 and 032 call it positionally. A later change of its
-- parameters keeps this signature for one release, as 016 keeps the previous
-- balance moves: a call that began before migrate's commit runs the body it
-- began with.
CREATE OR REPLACE FUNCTION claim_idempotency_key(
  p_owner          text,
  p_key            text,
  p_request_hash   text,
  p_payment_id     text,
  p_refund_id      text,
  p_now            timestamptz,
  p_ttl            interval,
  OUT claimed          boolean,
  OUT prev_hash        text,
  OUT prev_payment_id  text,
  OUT prev_refund_id   text)
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO idempotency_keys AS k (owner, key, request_hash, payment_id, refund_id, created_at, expires_at)
  VALUES (p_owner, p_key, p_request_hash, p_payment_id, p_refund_id, p_now, p_now + p_ttl)
  ON CONFLICT (owner, key) DO UPDATE
    SET (request_hash, payment_id, refund_id, created_at, expires_at) =
        (EXCLUDED.request_hash, EXCLUDED.payment_id, EXCLUDED.refund_id, EXCLUDED.created_at, EXCLUDED.expires_at)
    WHERE k.expires_at <= EXCLUDED.created_at;
  claimed := FOUND;
  IF NOT claimed THEN
    SELECT k.request_hash, k.payment_id, k.refund_id INTO prev_hash, prev_payment_id, prev_refund_id
      FROM idempotency_keys k WHERE k.owner = p_owner AND k.key = p_key;
  END IF;
END;
$$;
