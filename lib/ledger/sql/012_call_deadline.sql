-- The caller's deadline inside the ledger's functions. Every write function
-- takes it as p_deadline (timestamptz, NULL: none), the absolute time after
-- which the caller no longer waits, as the api computed it: the sooner of the
-- client's grpc-timeout and the Lambda's remaining time. It is compared with
-- this server's clock, so the two clocks must agree to well within
-- PAYMENT_MIN_TIME_MS (NTP on both sides, as Lambda and RDS keep them).

-- Called first: a call that starts after its deadline writes nothing, and
-- every lock wait after this gives up when the deadline comes (lock_timeout,
-- local to the transaction: nothing outlives the call on a pooled session).
-- Returns true, so a body calls it as an expression (`v := …`): plpgsql
-- evaluates an expression without a query of its own, where PERFORM runs one
-- through the executor; the same goes for set_config below. With both checks
-- of a payment performed as queries, that was about 5 % of its server time.
CREATE OR REPLACE FUNCTION ledger_call_may_start(p_deadline timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_set text;
BEGIN
  IF p_deadline IS NULL THEN
    RETURN true;
  END IF;
  IF clock_timestamp() >= p_deadline THEN
    RAISE EXCEPTION USING ERRCODE = 'query_canceled', MESSAGE = 'deadline passed before the call started';
  END IF;
  v_set := set_config('lock_timeout',
    greatest(1, ceil(extract(epoch FROM p_deadline - clock_timestamp()) * 1000))::bigint::text, true);
  RETURN true;
END;
$$;

-- Called last, once everything is written: past the deadline the caller has
-- given up, so roll back rather than commit something nobody will hear of.
-- The store marks the call as taken effect before it sends the statement, so
-- a commit that finishes just after the deadline is still the caller's answer.
-- Returns true, for the same reason as ledger_call_may_start.
CREATE OR REPLACE FUNCTION ledger_call_may_end(p_deadline timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF clock_timestamp() >= p_deadline THEN
    RAISE EXCEPTION USING ERRCODE = 'query_canceled', MESSAGE = 'deadline passed before the call committed';
  END IF;
  RETURN true;
END;
$$;

-- The same two checks for the previous release's bodies, which PERFORM them:
-- a call that began before a migrate committed finishes the body it began
-- with. One definition of each, above. Drop both with 016 in the next release.
CREATE OR REPLACE FUNCTION ledger_call_starts(p_deadline timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_ok boolean := ledger_call_may_start(p_deadline);
BEGIN
END;
$$;

CREATE OR REPLACE FUNCTION ledger_call_may_commit(p_deadline timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_ok boolean := ledger_call_may_end(p_deadline);
BEGIN
END;
$$;
