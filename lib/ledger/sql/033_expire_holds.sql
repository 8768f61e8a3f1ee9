-- The expiry sweep (the maintenance function, lib/maintenance/hold-expiry.ts):
-- releases up to array_length(p_event_ids) holds whose expires_at has passed,
-- each with its PaymentExpired event (p_event_ids, in order), in one
-- transaction; returns how many. A hold whose row a capture or void holds is
-- skipped: that call decides it (and expires it itself if it is past due).
CREATE OR REPLACE FUNCTION expire_holds(
  p_event_ids    text[],
  p_deadline     timestamptz DEFAULT NULL,
  p_traceparent  text DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_ids text[];
  v_in_time boolean;
BEGIN
  v_in_time := ledger_call_may_start(p_deadline);
  SELECT array_agg(due.payment_id::text) INTO v_ids FROM (
    SELECT h.payment_id FROM holds h
     WHERE h.state = 'HELD' AND h.expires_at <= now()
     ORDER BY h.expires_at
     LIMIT coalesce(array_length(p_event_ids, 1), 0)
       FOR NO KEY UPDATE SKIP LOCKED) due;
  IF v_ids IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM release_holds(v_ids, p_event_ids[1:array_length(v_ids, 1)], 'EXPIRED', now(), p_traceparent);
  v_in_time := ledger_call_may_end(p_deadline);
  RETURN array_length(v_ids, 1);
END;
$$;
