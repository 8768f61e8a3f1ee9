-- The caller's deadline inside the ledger's functions. Every write function
-- takes it as p_deadline (timestamptz, NULL: none), the absolute time after
-- which the caller no longer waits, as the api computed it: the sooner of the
-- client's grpc-timeout and the Lambda's remaining time. It is compared with
-- this server's clock, so the two clocks must agree to well within
-- PAYMENT_MIN_TIME_MS (NTP on both sides, as Lambda and RDS keep them).

-- Called first: a call that starts after its deadline writes nothing, and
-- every lock wait after this gives up when the deadline comes (lock_timeout,
-- local to the transaction: nothing outlives the call on a pooled session).
CREATE OR REPLACE FUNCTION ledger_call_starts(p_deadline timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_deadline IS NULL THEN
    RETURN;
  END IF;
  IF clock_timestamp() >= p_deadline THEN
    RAISE EXCEPTION USING ERRCODE = 'query_canceled', MESSAGE = 'deadline passed before the call started';
  END IF;
  PERFORM set_config('lock_timeout',
    greatest(1, ceil(extract(epoch FROM p_deadline - clock_timestamp()) * 1000))::bigint::text, true);
END;
$$;

-- Called last, once everything is written: past the deadline the caller has
-- given up, so roll back rather than commit something nobody will hear of.
-- The store marks the call as taken effect before it sends the statement, so
-- a commit that finishes just after the deadline is still the caller's answer.
CREATE OR REPLACE FUNCTION ledger_call_may_commit(p_deadline timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF clock_timestamp() >= p_deadline THEN
    RAISE EXCEPTION USING ERRCODE = 'query_canceled', MESSAGE = 'deadline passed before the call committed';
  END IF;
END;
$$;
