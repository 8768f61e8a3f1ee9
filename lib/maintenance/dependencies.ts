import { systemClock } from "../clock.ts";
import { databaseConfig, type Env, retentionConfig } from "../config.ts";
import { createPool } from "../db/pool.ts";
import { PgLedgerStore } from "../ledger/pg-ledger-store.ts";
import type { Log } from "../logging.ts";
import { expireDueHolds } from "../payments/hold-expiry.ts";
import { HoldExpiryJob } from "./hold-expiry.ts";
import { RetentionJob } from "./retention.ts";
import { RetentionRepository } from "./retention-repository.ts";

/** The maintenance function's jobs, built from the environment once per container, on one pool. */
export function maintenanceFromEnv(env: Env, log: Log): { holds: HoldExpiryJob; retention: RetentionJob } {
  const pool = createPool(databaseConfig(env));
  const store = new PgLedgerStore(pool);
  return {
    holds: new HoldExpiryJob({ ledger: { expireHolds: (limit) => expireDueHolds(store, limit) }, log }),
    retention: new RetentionJob({
      repository: new RetentionRepository(pool),
      clock: systemClock,
      config: retentionConfig(env),
      log,
    }),
  };
}
