-- Up Migration

-- The sample consumer's demo table no longer ships with the schema: the
-- consumer creates it itself (lib/consumer/event-totals.ts), so production
-- databases, migrated by the migrate Lambda, never hold it. Databases migrated
-- before this lose only demo totals.
DROP TABLE IF EXISTS sample_event_totals;

-- Down Migration

-- Nothing: the table belongs to the sample consumer, which recreates it.
