import { systemClock } from "../clock.ts";
import { databaseConfig, type Env, ledgerConfig, paymentsConfig, retentionConfig } from "../config.ts";
import { createPool } from "../db/pool.ts";
import { PgLedgerStore } from "../ledger/pg-ledger-store.ts";
import type { Log } from "../logging.ts";
import { PaymentService } from "../payments/service.ts";
import { HoldExpiryJob } from "./hold-expiry.ts";
import { RetentionJob } from "./retention.ts";
import { RetentionRepository } from "./retention-repository.ts";

/** The maintenance function's jobs, built from the environment once per container, on one pool. */
export function maintenanceFromEnv(env: Env, log: Log): { holds: HoldExpiryJob; retention: RetentionJob } {
  const pool = createPool(databaseConfig(env));
  return {
    holds: new HoldExpiryJob({
      ledger: new PaymentService(new PgLedgerStore(pool, ledgerConfig(env)), paymentsConfig(env)),
      log,
    }),
    retention: new RetentionJob({
      repository: new RetentionRepository(pool),
      clock: systemClock,
      config: retentionConfig(env),
      log,
    }),
  };
}
