// First: keeps a failed run's exit code (see the module).
import "./exit-code-guard.ts";
import type { TestProject } from "vitest/node";
import { provideKafka } from "../../tools/local-services/kafka.ts";
import { providePostgres } from "../../tools/local-services/postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    /**
     * How a client reaches the run's shared Kafka broker (JSON of lib/config.ts
     * settings: KAFKA_BROKERS, KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SASL_*).
     */
    kafkaEnv: string;
  }
}

/** Starts the services every test file shares, once per run, and stops them after. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [postgres, kafka] = await Promise.allSettled([providePostgres(), provideKafka()]);
  if (postgres.status === "rejected" || kafka.status === "rejected") {
    // Whichever did start must not outlive the failed run.
    if (postgres.status === "fulfilled") await postgres.value.stop();
    if (kafka.status === "fulfilled") await kafka.value.stop();
    throw postgres.status === "rejected" ? postgres.reason : (kafka as PromiseRejectedResult).reason;
  }
  project.provide("pgAdminUrl", postgres.value.adminUrl);
  project.provide("kafkaEnv", JSON.stringify(kafka.value.env));
  return async () => {
    await Promise.all([postgres.value.stop(), kafka.value.stop()]);
  };
}
