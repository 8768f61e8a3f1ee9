/**
 * The five functions: handler, role, limits, retries, events and the settings
 * only each one reads. Roles are in infra/iam.ts, the per-stage values in
 * infra/stages.ts.
 */
import { resolve } from "node:path";
import type { AWS } from "serverless";
import { DEAD_LETTER_FAILURES_ARN } from "./dead-letter-failures.ts";
import { type Deployment, functionName } from "./deployment.ts";

type Functions = NonNullable<AWS["functions"]>;

/** The maintenance (retention) function's schedule; its alarm expects a run at least this often. */
const MAINTENANCE_SCHEDULE = "rate(1 minute)";

/** Where the migrate bundle finds its SQL: beside it in its zip (Lambda's working directory is the package root). */
const MIGRATIONS = { MIGRATIONS_DIR: "lib/db/migrations", SQL_FUNCTIONS_DIR: "lib/ledger/sql" };

export function functions(d: Deployment): Functions {
  const { settings } = d;
  return {
    api: {
      handler: "functions/api/handler.handler",
      role: "ApiRole",
      // Its share of RDS Proxy's connection budget. A container serves one request at a time, one
      // transaction after another, so it borrows at most one server connection through the proxy:
      // 100 (prod) busy api containers plus drainOutbox, deadLetter and maintenance need at most
      // 111 of the proxy's connections (the arithmetic: docs/deploying.md); size its
      // MaxConnectionsPercent to leave that. 100 is 5x the concurrency of the prod throttle
      // (500 req/s at ~40 ms); beyond it, callers get throttled, not a database out of
      // connections. Reserving also keeps other functions from starving the api.
      ...(settings.apiReservedConcurrency && { reservedConcurrency: settings.apiReservedConcurrency }),
      // A cold start parses protobuf descriptors and JSON schemas: CPU scales with memory.
      memorySize: 1024,
      // Worst case is a database connect (3 s) plus a statement (5 s); the HTTP API gives up at 30 s.
      // Timing out here first turns a stuck request into a clean gRPC error.
      timeout: 10,
      environment: {
        ...settings.apiEnvironment,
        DRAIN_OUTBOX_FUNCTION_NAME: functionName(d.stage, "drainOutbox"),
      },
      // No CORS settings on the URL: the function answers preflights itself (middy cors), as behind the HTTP API.
      ...(d.apiFunctionUrl && { url: true }),
      events: d.apiFunctionUrl
        ? []
        : [
            { httpApi: { method: "POST", path: "/{proxy+}" } },
            // gRPC-web from browsers sends a CORS preflight; the function answers it (middy cors).
            { httpApi: { method: "OPTIONS", path: "/{proxy+}" } },
          ],
    },
    drainOutbox: {
      handler: "functions/drain-outbox/handler.handler",
      role: "DrainOutboxRole",
      // Below the schedule's interval, so a scheduled run ends before the next one starts. A run
      // stops claiming when OUTBOX_TIME_MARGIN_MS (10 s) remains: time to finish the batch in hand.
      timeout: 50,
      reservedConcurrency: settings.drainReservedConcurrency,
      // A failed or throttled run is never retried: the next schedule or nudge picks up the same
      // events, and their attempt counts live in the outbox table, not in Lambda's queue.
      maximumRetryAttempts: 0,
      maximumEventAge: 60,
      environment: {
        ...settings.kafkaEnvironment,
        DEAD_LETTER_FUNCTION_NAME: functionName(d.stage, "deadLetter"),
      },
      events: [
        { schedule: { rate: [settings.drainSchedule.rate], enabled: settings.drainSchedule.enabled } },
      ],
    },
    deadLetter: {
      handler: "functions/dead-letter/handler.handler",
      role: "DeadLetterRole",
      timeout: 30,
      // Only drainOutbox invokes it, asynchronously. Recording is idempotent by event id, so
      // Lambda's retries are safe; what still fails lands in an SQS queue with an alarm on it
      // (infra/dead-letter-failures.ts).
      // Two at a time: a burst of poison events must not open a connection pair per event.
      reservedConcurrency: 2,
      environment: settings.kafkaEnvironment,
      maximumRetryAttempts: 2,
      maximumEventAge: 21_600,
      destinations: { onFailure: { type: "sqs", arn: DEAD_LETTER_FAILURES_ARN } },
    },
    maintenance: {
      handler: "functions/maintenance/handler.handler",
      role: "MaintenanceRole",
      // Every minute, so each run deletes about a minute's worth of rows (small, steady work for
      // autovacuum). A run deletes until it has caught up or RETENTION_TIME_MARGIN_MS (10 s) of
      // this timeout remains; below the interval, so a run ends before the next one starts: 40 s
      // of deleting a minute at most (docs/capacity.md: the rate that allows). One at a time:
      // runs never compete for the same rows, and a run the schedule starts while one still
      // works is throttled and dropped, never queued.
      timeout: 50,
      reservedConcurrency: 1,
      maximumRetryAttempts: 0,
      maximumEventAge: 60,
      events: [{ schedule: { rate: [MAINTENANCE_SCHEDULE], enabled: true } }],
    },
    migrate: {
      handler: "functions/migrate/handler.handler",
      role: "MigrateRole",
      // DDL on a large table can take minutes; the deploy script waits for it.
      timeout: 300,
      reservedConcurrency: 1,
      maximumRetryAttempts: 0,
      // `invoke local` runs the bundle from the build folder, where serverless-esbuild keeps a
      // function's package.patterns files apart from it (floydspace/serverless-esbuild#461):
      // read the SQL from the sources, which the zip's copies are.
      environment: {
        ...(d.invokeLocal
          ? {
              MIGRATIONS_DIR: resolve(MIGRATIONS.MIGRATIONS_DIR),
              SQL_FUNCTIONS_DIR: resolve(MIGRATIONS.SQL_FUNCTIONS_DIR),
            }
          : MIGRATIONS),
        // Where it connects; DATABASE_SECRET_ARN still names the functions' role, whose defaults it sets.
        ...(settings.secrets && { MIGRATION_DATABASE_SECRET_ARN: settings.secrets.databaseMigrations }),
      },
      // Migrations and the ledger's function files are read at run time: ship them beside the bundle.
      package: { patterns: ["lib/db/migrations/*.sql", "lib/ledger/sql/*.sql"] },
    },
  };
}
