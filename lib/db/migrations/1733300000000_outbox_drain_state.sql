-- Up Migration

-- One row shared by every api container and drain, so the nudge is throttled
-- for the whole fleet, not per container, and stops while the broker is down:
-- a stalled broker must not turn every payment into another waiting drain.
CREATE TABLE outbox_drain_state (
  id                 boolean PRIMARY KEY DEFAULT true CHECK (id),
  last_nudge_at      timestamptz NOT NULL DEFAULT '-infinity',
  broker_down_until  timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO outbox_drain_state DEFAULT VALUES;

-- Down Migration

DROP TABLE outbox_drain_state;
