-- Up Migration

-- Autovacuum by absolute counts for the tables that churn with every payment.
--
-- Why absolute: a scale factor makes the dead tuples autovacuum waits for grow
-- with the table. At the outbox's former 1 %, a 600-million-row outbox (7 days
-- at 1,000 payments/s) piles up 6 million dead row versions, and the pending
-- indexes as many dead entries for the claim to step over, before a vacuum
-- starts, and that vacuum then has hours of work. With the scale factor at 0
-- the interval between vacuums depends on the write rate alone, whatever the
-- table's size. These tables now hold a steady number of rows (retention
-- deletes a minute's worth every minute, lib/maintenance), so their churn is a
-- fixed rate too.
--
-- Why these numbers: each vacuum still scans every index of the table once
-- (btree bulk delete), so the threshold is not tiny: at the prod stage's 500
-- payments/s the outbox makes about 1,000 dead versions a second (published:
-- a non-HOT update, as published_at is in the pending indexes' predicate;
-- then retention's delete), the keys and the inbox about 500 each. 50,000 is
-- a minute or less of that, and autovacuum looks at a table at most once per
-- autovacuum_naptime (1 min by default) anyway; at 10 payments/s it is an hour
-- and a half, instead of never.
--
-- Insert thresholds, absolute too: a vacuum after every 100,000 inserts (1
-- million for the insert-only ledger tables) sets the visibility map for the
-- pages written since (index-only scans, vacuums that skip them) and freezes
-- their rows a few at a time, so no anti-wraparound vacuum of a
-- billion-row ledger_entries comes due all at once. Such a vacuum finds no
-- dead tuples and skips the index scans: it costs the new pages only.
--
-- The outbox's analyze follows the same rule: the claim's plan depends on how
-- many rows are pending, which a 2 % analyze threshold of a huge table would
-- leave stale for hours.
ALTER TABLE outbox SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 50000,
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 100000,
  autovacuum_analyze_scale_factor = 0,
  autovacuum_analyze_threshold = 50000
);
ALTER TABLE idempotency_keys SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 50000,
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 100000
);
ALTER TABLE inbox SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 50000,
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 100000
);
ALTER TABLE payments SET (
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 1000000
);
ALTER TABLE ledger_entries SET (
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 1000000
);

-- Retention deletes redriven dead letters, and measures how far behind it is,
-- by redrive time: an index, so neither reads the whole table. Partial: most
-- dead letters are never redriven.
CREATE INDEX dead_letters_redriven ON dead_letters (redriven_at) WHERE redriven_at IS NOT NULL;

-- Down Migration

DROP INDEX dead_letters_redriven;
ALTER TABLE ledger_entries RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold);
ALTER TABLE payments RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold);
ALTER TABLE inbox RESET (autovacuum_vacuum_threshold, autovacuum_vacuum_insert_threshold);
ALTER TABLE inbox SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE idempotency_keys RESET (autovacuum_vacuum_threshold, autovacuum_vacuum_insert_threshold);
ALTER TABLE idempotency_keys SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE outbox RESET (autovacuum_vacuum_insert_threshold, autovacuum_analyze_threshold);
ALTER TABLE outbox SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02
);
