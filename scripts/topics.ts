/**
 * `npm run topics [-- --add-partitions]`: creates every topic the system
 * writes (one per event type, and the dead-letter topic) that does not exist
 * yet, with KAFKA_TOPIC_PARTITIONS, KAFKA_TOPIC_REPLICATION_FACTOR and
 * KAFKA_TOPIC_MIN_INSYNC_REPLICAS, and checks those that do against the same
 * settings. Safe to run again and again; the deploy runs it. A topic that
 * differs is reported and the command fails; it is changed only by
 * --add-partitions, and only to add partitions. Reaches Kafka with the usual
 * KAFKA_* settings, as a login that may create topics (docs/deploying.md).
 */
import { parseArgs } from "node:util";
import { topicsConfig } from "../lib/config.ts";
import { ensureLedgerTopics } from "../lib/ops/topics.ts";
import { runCli } from "./support/cli.ts";

const { values } = parseArgs({ options: { "add-partitions": { type: "boolean", default: false } } });

await runCli("topics", ["kafka"], async () => {
  const settings = topicsConfig(process.env);
  console.log(
    `topics: ${settings.partitions} partitions, replication factor ${settings.replicationFactor}, ` +
      `min.insync.replicas ${settings.minInsyncReplicas}`,
  );
  const result = await ensureLedgerTopics(process.env, { addPartitions: values["add-partitions"] });
  for (const line of result.lines) console.log(`  ${line}`);
  if (!result.ok) {
    console.error("topics: some topics differ from the settings (above); nothing was changed on them");
    process.exitCode = 1;
  }
});
