/**
 * `npm run redrive -- --event-id <ULID>`: puts a dead-lettered event back into
 * the outbox (attempts reset, due now); the next drain publishes it.
 */
import { parseArgs } from "node:util";
import { databaseConfig } from "../lib/config.ts";
import { createPool } from "../lib/db/pool.ts";
import { redriveDeadLetter } from "../lib/dead-letters/redrive.ts";
import { ServiceError } from "../lib/errors.ts";

const { values } = parseArgs({ options: { "event-id": { type: "string" } } });
const eventId = values["event-id"];
if (!eventId) {
  console.error("usage: npm run redrive -- --event-id <ULID>");
  process.exit(2);
}

const pool = createPool(databaseConfig());
try {
  const result = await redriveDeadLetter(pool, eventId, new Date());
  console.log(`redriven ${result.eventId} at ${result.redrivenAt}; the next drain publishes it`);
} catch (error) {
  if (!(error instanceof ServiceError)) throw error;
  console.error(`${error.code}: ${error.message}`);
  process.exitCode = 1;
} finally {
  await pool.end();
}
