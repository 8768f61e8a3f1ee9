/**
 * The run's Postgres as test files reach it: through the run's transaction-mode
 * PgBouncer, as the functions reach theirs through RDS Proxy, with a direct
 * session beside it for what only a session can do (migrations, following one
 * backend's pid, pg_locks; each such use says why).
 */
import { inject, type TestContext } from "vitest";
import {
  type FreshDatabaseOptions,
  freshDatabase,
  type TestDatabase,
} from "../../tools/local-services/postgres.ts";

/** The run's pooler, as freshDatabase takes it; undefined when there is none. */
export function testPooler(): { pooledUrl(directUrl: string): string } | undefined {
  const address = inject("pgPooler");
  if (!address) return undefined;
  return {
    pooledUrl: (directUrl) => {
      const url = new URL(directUrl);
      url.host = address;
      return url.toString();
    },
  };
}

/** A fresh migrated database: `url` through the pooler (when the run has one), `directUrl` beside it. */
export function testDatabase(
  prefix?: string,
  options: Omit<FreshDatabaseOptions, "pooler"> = {},
): Promise<TestDatabase> {
  return freshDatabase(inject("pgAdminUrl"), prefix, { ...options, pooler: testPooler() });
}

/**
 * For a test about the pooler itself: skips it (counted as skipped, never
 * passed) with the reason printed when the run has none.
 */
export function requirePooler(ctx: TestContext): void {
  const reason = inject("pgPoolerUnavailable");
  if (!reason) return;
  console.log(`skipped: this test needs a transaction-mode PgBouncer in front of Postgres: ${reason}`);
  ctx.skip();
}
