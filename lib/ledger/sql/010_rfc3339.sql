-- Timestamps in event payloads and claimed outbox rows: UTC RFC 3339 with
-- milliseconds, the form every other part of the system writes.
CREATE OR REPLACE FUNCTION rfc3339(ts timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
