/**
 * `npm run redrive -- --event-id <ULID>`: puts a dead-lettered event back into
 * the outbox (attempts reset, due now); the next drain publishes it.
 */
import { parseArgs } from "node:util";
import { databaseConfig } from "../lib/config.ts";
import { createPool } from "../lib/db/pool.ts";
import { redriveDeadLetter } from "../lib/dead-letters/redrive.ts";
import { runCli } from "./support/cli.ts";

const { values } = parseArgs({ options: { "event-id": { type: "string" } } });
const eventId = values["event-id"];
if (!eventId) {
  console.error("usage: npm run redrive -- --event-id <ULID>");
  process.exit(2);
}

await runCli("redrive", ["postgres"], async () => {
  const pool = createPool(databaseConfig(process.env));
  try {
    const result = await redriveDeadLetter(pool, eventId, new Date());
    console.log(`redriven ${result.eventId} at ${result.redrivenAt}; the next drain publishes it`);
  } finally {
    await pool.end();
  }
});
