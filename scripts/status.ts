/**
 * `npm run status [-- --json]`: the outbox backlog by age, retrying events
 * with their last error, dead letters not yet redriven, recent publishing,
 * and per-topic end offsets with the sample consumer group's lag. Works
 * against any DATABASE_URL / KAFKA_BROKERS; Postgres is required, Kafka is
 * reported as unreachable rather than failing the command.
 */
import { consumerConfig, databaseConfig, kafkaConfig, outboxConfig } from "../lib/config.ts";
import { createPool } from "../lib/db/pool.ts";
import { operatorKafka } from "../lib/kafka/client.ts";
import { ledgerTopics } from "../lib/kafka/messages.ts";
import { formatStatus, type StatusReport } from "../lib/ops/format-status.ts";
import { kafkaStatus } from "../lib/ops/kafka-status.ts";
import { outboxStatus } from "../lib/ops/outbox-status.ts";
import { runCli } from "./support/cli.ts";

await runCli("status", ["postgres"], async () => {
  const outbox = outboxConfig(process.env);
  const pool = createPool(databaseConfig(process.env));
  try {
    const report: StatusReport = { outbox: await outboxStatus(pool) };
    try {
      // Quiet and quick: a down broker is a line in the report, not a retry storm.
      const kafka = await operatorKafka({ ...kafkaConfig(process.env), logLevel: "nothing", retries: 1 });
      report.kafka = await kafkaStatus(kafka, ledgerTopics(outbox), consumerConfig(process.env).groupId);
    } catch (error) {
      report.kafkaError = error instanceof Error ? error.message : String(error);
    }
    console.log(process.argv.includes("--json") ? JSON.stringify(report, null, 2) : formatStatus(report));
  } finally {
    await pool.end();
  }
});
