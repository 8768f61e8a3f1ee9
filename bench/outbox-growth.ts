/**
 * Does the outbox slow down as published rows pile up? One run, one broker:
 *
 *   1. empty table: claim+mark throughput (no Kafka) and full drain
 *      throughput (claim, sendBatch, mark) on --events pending events;
 *   2. bulk-load --rows published events (one INSERT … SELECT generate_series),
 *      VACUUM ANALYZE as autovacuum would;
 *   3. the same two measurements again; each as a % of the empty-table rate.
 *
 *   npm run bench:growth -- [--rows 5000000] [--events 30000] [--batch 1000]
 *
 * Uses DATABASE_URL / KAFKA_BROKERS when set, else starts a local Postgres
 * (durable: fsync on) and a local Kafka broker.
 */
import { randomBytes } from "node:crypto";
import { systemClock } from "../lib/clock.ts";
import { databaseConfig, kafkaConfig, outboxConfig } from "../lib/config.ts";
import { createPool } from "../lib/db/pool.ts";
import { createEventValidators } from "../lib/events/validators.ts";
import { newId } from "../lib/ids.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { KafkaPublisher } from "../lib/kafka/publisher.ts";
import { ensureLedgerTopics } from "../lib/ops/topics.ts";
import { OutboxDrain } from "../lib/outbox/drain.ts";
import { OutboxRepository } from "../lib/outbox/outbox-repository.ts";
import { provideKafka } from "../tools/local-services/kafka.ts";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import { argValue, formatRate, machineLine, printTable } from "./support.ts";

const rowsToLoad = argValue("rows", 5_000_000);
const events = argValue("events", 30_000);
const batchSize = argValue("batch", 1_000);

const log = (line: string) => console.error(line);
const [postgres, broker] = await Promise.all([
  providePostgres({ durable: true, log }),
  provideKafka({ log }),
]);
// No statement timeout (the role's default, set by migrate): the bulk load and its VACUUM take minutes.
const db = await freshDatabase(postgres.adminUrl, "growth", { statementTimeoutMs: 0 });
const pool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 10 });
const kafkaSettings = kafkaConfig({ ...broker.env, KAFKA_LOG_LEVEL: "error" });
const prefix = `growth${randomBytes(3).toString("hex")}.payments`;
const repository = new OutboxRepository(pool);

try {
  // The topics step of a deploy (npm run topics): the broker makes none by itself.
  await ensureLedgerTopics({ ...broker.env, OUTBOX_TOPIC_PREFIX: prefix });

  // Warm-up (not reported): JIT, connections and the producer, so the empty-table row is not the cold one.
  await measureClaim();
  await measureDrain();
  const empty = { claim: await measureClaim(), drain: await measureDrain() };
  const loadMs = await loadPublished(rowsToLoad);
  const grown = { claim: await measureClaim(), drain: await measureDrain() };
  const { rows: size } = await pool.query<{ n: bigint; bytes: string }>(
    "SELECT count(*) AS n, pg_size_pretty(pg_total_relation_size('outbox')) AS bytes FROM outbox",
  );

  const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)} %`;
  console.log(
    `\noutbox growth: ${formatRate(rowsToLoad)} published rows loaded in ${(loadMs / 1000).toFixed(0)} s (table now ${size[0]?.bytes}), ${formatRate(events)} pending events per measurement, batch ${batchSize}`,
  );
  printTable(
    ["case", "empty table, events/s", `${formatRate(rowsToLoad)} published rows, events/s`, "grown / empty"],
    [
      [
        "claim + mark (no Kafka)",
        formatRate(empty.claim),
        formatRate(grown.claim),
        pct(grown.claim, empty.claim),
      ],
      [
        "drain (claim, sendBatch acks=all, mark)",
        formatRate(empty.drain),
        formatRate(grown.drain),
        pct(grown.drain, empty.drain),
      ],
    ],
  );
  console.log(machineLine());
} finally {
  await pool.end();
  await db.drop();
  await Promise.all([postgres.stop(), broker.stop()]);
}

/** Pending events as committed payments leave them, then analysed like a settled table. */
async function fillPending(count: number): Promise<void> {
  const chunk = 10_000;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    const ids = Array.from({ length: n }, () => newId());
    await pool.query(
      `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
       SELECT e.id, 'Payment', e.id, 'PaymentAuthorized', jsonb_build_object(
         'payment_id', e.id, 'payer_account_id', e.id, 'payee_account_id', e.id, 'amount_cents', 1250,
         'currency', 'EUR', 'description', 'bench payment')
       FROM unnest($1::text[]) WITH ORDINALITY AS e(id, n) ORDER BY n`,
      [ids],
    );
  }
  await pool.query("VACUUM ANALYZE outbox");
}

async function measureClaim(): Promise<number> {
  await fillPending(events);
  const started = performance.now();
  let done = 0;
  for (;;) {
    const now = systemClock.now();
    const claimed = await repository.claim("growth", batchSize, now, new Date(now.getTime() + 60_000));
    if (claimed.length === 0) break;
    done += await repository.markPublished(
      claimed.map((e) => e.seq),
      systemClock.now(),
    );
  }
  const ms = performance.now() - started;
  if (done !== events) throw new Error(`claimed and marked ${done} of ${events}`);
  return (events / ms) * 1000;
}

async function measureDrain(): Promise<number> {
  await fillPending(events);
  const publisher = new KafkaPublisher(createKafka(kafkaSettings));
  try {
    const drain = new OutboxDrain({
      repository,
      publisher,
      deadLetters: {
        async deadLetter(envelope) {
          throw new Error(`bench events are valid; unexpected dead letter ${envelope.event_id}`);
        },
      },
      validators: createEventValidators(),
      clock: systemClock,
      config: { ...outboxConfig({ OUTBOX_TOPIC_PREFIX: prefix }), batchSize },
    });
    const started = performance.now();
    const summary = await drain.run();
    const ms = performance.now() - started;
    if (summary.published !== events) throw new Error(`published ${summary.published} of ${events}`);
    return (events / ms) * 1000;
  } finally {
    await publisher.close();
  }
}

/** Published rows like a week of traffic leaves them (ids are valid ULID text: hex digits). */
async function loadPublished(count: number): Promise<number> {
  console.error(`loading ${count} published rows…`);
  const started = performance.now();
  await pool.query(
    `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, next_attempt_at, published_at)
     SELECT lpad(upper(to_hex(g)), 26, '0'), 'Payment', lpad(upper(to_hex(g)), 26, '0'), 'PaymentAuthorized',
            jsonb_build_object('payment_id', lpad(upper(to_hex(g)), 26, '0'), 'amount_cents', 1250,
                               'currency', 'EUR', 'description', 'bench payment'),
            now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
     FROM generate_series(1, $1::bigint) AS g`,
    [count],
  );
  await pool.query("VACUUM ANALYZE outbox");
  return performance.now() - started;
}
