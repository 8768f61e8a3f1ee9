/**
 * The topics step: every topic the system writes (lib/kafka/messages.ts
 * ledgerTopics) made on purpose with the settings' partitions, replication
 * factor and min.insync.replicas, or checked against them. Run by `npm run
 * topics`, the deploy scripts and `npm run dev`.
 */
import { type Env, kafkaConfig, outboxConfig, topicsConfig } from "../config.ts";
import { operatorKafka } from "../kafka/client.ts";
import { ledgerTopics } from "../kafka/messages.ts";
import { describeOutcome, provisionTopics, type TopicOutcome } from "../kafka/topic-provisioning.ts";

export interface TopicsStepResult {
  outcomes: TopicOutcome[];
  /** One line per topic, for people. */
  lines: string[];
  /** True when every topic exists as the settings say (else the differences are in `lines`). */
  ok: boolean;
}

export async function ensureLedgerTopics(
  env: Env,
  options: { addPartitions?: boolean } = {},
): Promise<TopicsStepResult> {
  const settings = topicsConfig(env);
  // Quiet: a refusal is reported here, in one line per topic, not as kafkajs' retry log.
  const kafka = await operatorKafka({ ...kafkaConfig(env), logLevel: "nothing" });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const outcomes = await provisionTopics(admin, ledgerTopics(outboxConfig(env)), settings, {
      addPartitions: options.addPartitions ?? false,
    });
    return {
      outcomes,
      lines: outcomes.map(describeOutcome),
      ok: outcomes.every((outcome) => outcome.status !== "differs"),
    };
  } finally {
    await admin.disconnect();
  }
}
