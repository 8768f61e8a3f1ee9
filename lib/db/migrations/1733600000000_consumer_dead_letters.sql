-- Up Migration

-- The sample consumer's dead letters: messages it read and could not accept
-- (not JSON, or not valid against schemas/), one row per message position,
-- with the bytes as they arrived and why. Written before the offset is
-- committed, so a rejected message is never just skipped, and a redelivery
-- of the same position records nothing new. Kept until someone deals with
-- them, like dead_letters; nothing but a producer's bug puts rows here.
--
-- Not payments.dlq: that topic is the producer's, and its messages must be
-- valid dead letters (schemas/dead_letter.json needs the event's envelope
-- fields), which a message that failed validation may not have; and a
-- rejection is one consumer's verdict, not every consumer's.
CREATE TABLE consumer_dead_letters (
  consumer        text NOT NULL CHECK (length(consumer) BETWEEN 1 AND 255),
  topic           text NOT NULL,
  kafka_partition integer NOT NULL,
  kafka_offset    bigint NOT NULL,
  -- The event_id header, when the message had one: the message itself may not say.
  event_id        text,
  message_key     bytea,
  message_value   bytea,
  headers         jsonb NOT NULL DEFAULT '{}',
  reason          text NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, topic, kafka_partition, kafka_offset)
);

-- Down Migration

DROP TABLE consumer_dead_letters;
