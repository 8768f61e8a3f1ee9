-- Up Migration

-- The drain slots (OUTBOX_MAX_CONCURRENT_DRAINS), as rows under a lease
-- instead of session advisory locks: a session lock behind a transaction-mode
-- pooler belongs to whichever server connection the pooler picked, so the
-- bound silently stopped holding (and on RDS Proxy it pinned a connection for
-- the container's life). A drain holds a row while its lease is in the
-- future and renews it as it runs; a dead drain's lease simply runs out.
-- Rows 0..N-1 are created by the drains on first use (lib/outbox/drain-slots.ts).
CREATE TABLE outbox_drain_slots (
  slot        integer PRIMARY KEY CHECK (slot >= 0),
  holder      text,
  held_until  timestamptz NOT NULL DEFAULT '-infinity'
);

-- The drain's claims and marks commit without waiting for the WAL flush: a
-- claim or a "published" mark lost in a crash means the event is sent again,
-- which at-least-once allows (and the WAL replays as a prefix, so a later mark
-- is never kept while an earlier one is lost). Set inside the statement, for
-- its own transaction only: nothing is sent per connection (a transaction-mode
-- pooler refuses startup options) and the client sends no SET (RDS Proxy pins
-- a session on one; it does not look inside functions).
CREATE FUNCTION commit_without_flush_wait() RETURNS boolean
LANGUAGE sql VOLATILE
AS $$ SELECT set_config('synchronous_commit', 'off', true) IS NOT NULL $$;

-- Down Migration

DROP FUNCTION commit_without_flush_wait();
DROP TABLE outbox_drain_slots;
