import type { Pool, PoolClient } from "../db/pool.ts";
import type { ConsumedEvent, InboxEffect } from "./inbox.ts";

/**
 * The demo table behind the totals. Not a migration: it belongs to the sample
 * consumer, so the schema the migrate Lambda ships to production never holds it.
 */
const CREATE_TABLE_SQL = `
  CREATE TABLE IF NOT EXISTS sample_event_totals (
    consumer      text NOT NULL,
    event_type    text NOT NULL,
    currency      text NOT NULL,
    events        bigint NOT NULL DEFAULT 0,
    amount_cents  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer, event_type, currency)
  )`;

/** Creates the sample consumer's demo table if missing; run before the consumer starts. */
export async function createEventTotalsTable(pool: Pool): Promise<void> {
  await pool.query(CREATE_TABLE_SQL);
}

const UPSERT_SQL = `
  INSERT INTO sample_event_totals AS t (consumer, event_type, currency, events, amount_cents)
  VALUES ($1, $2, $3, 1, $4)
  ON CONFLICT (consumer, event_type, currency)
  DO UPDATE SET events = t.events + 1, amount_cents = t.amount_cents + EXCLUDED.amount_cents`;

/** Dead letters are counted under this name; their payload may be anything, so their amounts are not summed. */
const DEAD_LETTERS = "DeadLetter";

function totalsKey(consumed: ConsumedEvent): { eventType: string; currency: string; amountCents: bigint } {
  if (consumed.kind === "dead-letter") {
    const currency = consumed.letter.payload.currency;
    return {
      eventType: DEAD_LETTERS,
      currency: typeof currency === "string" ? currency : "",
      amountCents: 0n,
    };
  }
  const { event_type, payload } = consumed.event;
  return { eventType: event_type, currency: payload.currency, amountCents: BigInt(payload.amount_cents) };
}

/** The sample consumer's effect: running count and sum per event type and currency. */
export function eventTotalsEffect(consumer: string): InboxEffect {
  return async (client: PoolClient, event: ConsumedEvent) => {
    const key = totalsKey(event);
    await client.query(UPSERT_SQL, [consumer, key.eventType, key.currency, key.amountCents]);
  };
}
