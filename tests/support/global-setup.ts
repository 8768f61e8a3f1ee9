// First: keeps a failed run's exit code (see the module).
import "./exit-code-guard.ts";
import type { TestProject } from "vitest/node";
import { provideKafka } from "../../tools/local-services/kafka.ts";
import { type PoolerHandle, providePooler } from "../../tools/local-services/pgbouncer.ts";
import { providePostgres } from "../../tools/local-services/postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** A direct session to the server, as a superuser (CREATE DATABASE, migrations). */
    pgAdminUrl: string;
    /**
     * How a client reaches the run's shared Kafka broker (JSON of lib/config.ts
     * settings: KAFKA_BROKERS, KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SASL_*).
     */
    kafkaEnv: string;
    /** host:port of the run's transaction-mode PgBouncer in front of it; "" when there is none. */
    pgPooler: string;
    /** Why there is no pooler of this run ("" when there is one): tests that need one skip, saying this. */
    pgPoolerUnavailable: string;
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
  // The functions reach Postgres through a transaction-mode pooler in production (RDS Proxy), so the
  // tests do too. Without one (no pgbouncer could be installed or started) the tests that need it
  // skip and say why; the others connect directly.
  let pooler: PoolerHandle | undefined;
  let unavailable = "";
  if (postgres.value.source === "env") {
    unavailable = "DATABASE_URL is set: it is used as given, and no pooler of this run is in front of it";
  } else {
    try {
      pooler = await providePooler(postgres.value);
    } catch (error) {
      unavailable = error instanceof Error ? error.message : String(error);
      console.error(`${unavailable}\nTests that need a transaction-mode pooler will be skipped.`);
    }
  }
  project.provide("pgAdminUrl", postgres.value.adminUrl);
  project.provide("kafkaEnv", JSON.stringify(kafka.value.env));
  project.provide("pgPooler", pooler ? new URL(pooler.pooledUrl(postgres.value.adminUrl)).host : "");
  project.provide("pgPoolerUnavailable", unavailable);
  return async () => {
    await pooler?.stop();
    await Promise.all([postgres.value.stop(), kafka.value.stop()]);
  };
}
