-- Up Migration

-- Formerly 1732900000000_outbox_delivery, which also created the sample
-- consumer's demo table. In databases that applied it under that name,
-- lib/db/migrate.ts (RENAMED_MIGRATIONS) updates the recorded name before
-- migrating, and 1733000000000_drop_demo_event_totals drops the table.

-- Leave room on each page so claiming an event (claimed_by/claimed_until, no
-- indexed column) is a HOT update: no new index entries, a third of the WAL.
-- Affects pages written from now on.
ALTER TABLE outbox SET (fillfactor = 50);

-- The sample consumer's inbox: one row per event a consumer has processed,
-- written in the same transaction as the consumer's effect, so a redelivered
-- event (Kafka is at-least-once) is recognised and skipped.
CREATE TABLE inbox (
  consumer      text NOT NULL CHECK (length(consumer) BETWEEN 1 AND 255),
  event_id      ulid NOT NULL,
  topic         text NOT NULL,
  kafka_partition integer NOT NULL,
  kafka_offset  bigint NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

-- Down Migration

DROP TABLE inbox;
ALTER TABLE outbox RESET (fillfactor);
