import { fileURLToPath } from "node:url";
import { runner } from "node-pg-migrate";

export const MIGRATIONS_TABLE = "schema_migrations";

/** Where the SQL migrations live next to this module (overridable for bundles). */
export function defaultMigrationsDir(): string {
  return process.env.MIGRATIONS_DIR ?? fileURLToPath(new URL("./migrations", import.meta.url));
}

export interface MigrateOptions {
  databaseUrl: string;
  dir?: string;
  log?: (message: string) => void;
}

/**
 * Applies pending migrations (node-pg-migrate, plain SQL files). It holds an
 * advisory lock, so concurrent callers (two deploys, a test and a Lambda)
 * apply each migration once. Returns the names applied by this call.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const applied = await runner({
    databaseUrl: options.databaseUrl,
    dir: options.dir ?? defaultMigrationsDir(),
    direction: "up",
    migrationsTable: MIGRATIONS_TABLE,
    checkOrder: true,
    // A second deploy (or Lambda) waits for the first instead of failing.
    advisoryLockMode: "wait",
    log: options.log ?? (() => {}),
  });
  return applied.map((m) => m.name);
}
