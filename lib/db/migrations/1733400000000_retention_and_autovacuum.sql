-- Up Migration

-- Retention deletes inbox rows by age (lib/maintenance).
CREATE INDEX inbox_processed_at ON inbox (processed_at);

-- Autovacuum for the high-churn tables. The defaults wait until 20 % of a
-- table is dead tuples; these tables make dead tuples on every payment:
--   outbox            each event leaves 2 dead row versions within seconds
--                     (claim, publish), and retention deletes the rest. The
--                     claim scans the partial pending indexes, which only stay
--                     small if dead entries are cleaned promptly, so vacuum at
--                     1 % (or 1,000 rows) and without cost-based sleeping.
--   balances          two updates per payment on a few hot rows (HOT, but the
--                     page space comes back only through pruning or vacuum).
--   idempotency_keys, inbox
--                     insert-only, then deleted in batches by retention.
-- Analyze often too: the claim's plan depends on how many rows are pending.
ALTER TABLE outbox SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE balances SET (
  autovacuum_vacuum_scale_factor = 0.0,
  autovacuum_vacuum_threshold = 10000,
  autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE idempotency_keys SET (
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_insert_scale_factor = 0.05
);
ALTER TABLE inbox SET (
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_insert_scale_factor = 0.05
);

-- Down Migration

ALTER TABLE inbox RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor);
ALTER TABLE idempotency_keys RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor);
ALTER TABLE balances RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay);
ALTER TABLE outbox RESET (
  autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_insert_scale_factor,
  autovacuum_analyze_scale_factor, autovacuum_vacuum_cost_delay
);
DROP INDEX inbox_processed_at;
