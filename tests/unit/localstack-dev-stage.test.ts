import { describe, expect, it } from "vitest";
import { stageSettings } from "../../infra/stages.ts";
import { devStageKafkaEnv, devStageRehearsalEnv } from "../../tools/local-services/localstack-dev-stage.ts";

const broker = {
  KAFKA_BROKERS: "127.0.0.1:19092",
  KAFKA_SSL: "true",
  KAFKA_SSL_CA_FILE: "/tmp/kafka/ca.pem",
  KAFKA_SASL_MECHANISM: "scram-sha-512",
  KAFKA_SASL_USERNAME: "payment-ledger",
  KAFKA_SASL_PASSWORD: "per-start",
};

describe("the dev stage's rehearsal in LocalStack", () => {
  it("seeds the dev stage with this machine's services and has the machine trust the broker's CA", () => {
    expect(
      devStageRehearsalEnv({
        databaseUrl: "postgres://u:p@127.0.0.1:6432/dev",
        migrationUrl: "postgres://u:p@127.0.0.1:5432/dev",
        kafkaEnv: broker,
        jwksUrl: "http://127.0.0.1:9/jwks.json",
      }),
    ).toEqual({
      DEV_DATABASE_URL: "postgres://u:p@127.0.0.1:6432/dev",
      DEV_MIGRATION_DATABASE_URL: "postgres://u:p@127.0.0.1:5432/dev",
      DEV_KAFKA_BROKERS: "127.0.0.1:19092",
      DEV_KAFKA_USERNAME: "payment-ledger",
      DEV_KAFKA_PASSWORD: "per-start",
      DEV_JWT_JWKS_URL: "http://127.0.0.1:9/jwks.json",
      LAMBDA_NODE_EXTRA_CA_CERTS: "/tmp/kafka/ca.pem",
    });
  });

  it("adds no trust for a broker whose certificate the system's CAs already verify", () => {
    const { KAFKA_SSL_CA_FILE: _, ...systemTrusted } = broker;
    const env = devStageRehearsalEnv({ databaseUrl: "d", migrationUrl: "m", kafkaEnv: systemTrusted });
    expect(env).not.toHaveProperty("LAMBDA_NODE_EXTRA_CA_CERTS");
    expect(env).not.toHaveProperty("DEV_JWT_JWKS_URL");
  });

  it("leaves the dev template's Kafka settings as prod-like as they are: TLS on the system's CAs, SCRAM, a secret", () => {
    const dev = stageSettings("dev", {}).kafkaEnvironment;
    expect(dev.KAFKA_SSL).toBe("true");
    expect(dev).not.toHaveProperty("KAFKA_SSL_CA_FILE");
    expect(dev.KAFKA_SASL_SECRET_ARN).toBe("payment-ledger/dev/kafka");
    // A test client logs in with the template's mechanism, on the same listener and login.
    expect(devStageKafkaEnv(broker)).toEqual({ ...broker, KAFKA_SASL_MECHANISM: dev.KAFKA_SASL_MECHANISM });
    expect(dev.KAFKA_SASL_MECHANISM).toBe("scram-sha-256");
  });
});
