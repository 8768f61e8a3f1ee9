-- Up Migration

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

-- The sample consumer's effect: running totals per event type and currency.
-- Counting twice here is exactly what the inbox prevents.
CREATE TABLE sample_event_totals (
  consumer      text NOT NULL,
  event_type    text NOT NULL,
  currency      text NOT NULL,
  events        bigint NOT NULL DEFAULT 0,
  amount_cents  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (consumer, event_type, currency)
);

-- Down Migration

DROP TABLE sample_event_totals;
DROP TABLE inbox;
ALTER TABLE outbox RESET (fillfactor);
