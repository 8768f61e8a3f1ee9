-- Up Migration

-- The W3C traceparent of the call that wrote the event (the api's span), so
-- the drain sends it as a Kafka header and one payment is one trace from the
-- gRPC-web call to the consumer. Nullable without a default: adding it
-- rewrites nothing, and rows written before it simply start a trace of their
-- own when they are sent.
ALTER TABLE outbox ADD COLUMN traceparent text;

-- A dead letter keeps its event's trace, so the DLQ message continues it.
ALTER TABLE dead_letters ADD COLUMN traceparent text;

-- Down Migration

ALTER TABLE dead_letters DROP COLUMN traceparent;
ALTER TABLE outbox DROP COLUMN traceparent;
