import type { Pool } from "./pool.ts";

/**
 * True when Postgres answers a trivial query within `timeoutMs`. Never
 * throws: a health probe must report "not serving", not fail. The timeout
 * matters when the server is unreachable rather than refusing: a blackholed
 * address would otherwise hold the probe for the full connect timeout.
 */
export async function pingDatabase(pool: Pool, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const answered = pool.query("SELECT 1").then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([answered, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
