import { describe, expect, it } from "vitest";
import { ConfigError, databaseConfig, migrationDatabaseConfig } from "../../lib/config.ts";
import { isUnavailable } from "../../lib/db/errors.ts";
import { pgbouncerIni } from "../../tools/local-services/pgbouncer/config.ts";

describe("databaseConfig", () => {
  it("has documented defaults", () => {
    expect(databaseConfig({})).toEqual({
      url: "postgres://postgres:postgres@127.0.0.1:5432/ledger",
      secret: undefined,
      poolMax: 5,
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 3_000,
      idleTimeoutMs: 30_000,
    });
  });

  it("refuses an idle timeout below a second", () => {
    expect(() => databaseConfig({ DB_IDLE_TIMEOUT_MS: "10" })).toThrow(ConfigError);
  });
});

describe("migrationDatabaseConfig", () => {
  const functions = { DATABASE_URL: "postgres://app@proxy:5432/ledger" };

  it("is the functions' connection when migrate has none of its own", () => {
    expect(migrationDatabaseConfig(functions)).toEqual({ url: functions.DATABASE_URL, secret: undefined });
    const withSecret = migrationDatabaseConfig({ ...functions, DATABASE_SECRET_ARN: "fn-secret" });
    expect(withSecret.secret?.id).toBe("fn-secret");
  });

  it("prefers migrate's own URL, and its own secret over any URL", () => {
    const direct = "postgres://owner@db:5432/ledger";
    expect(
      migrationDatabaseConfig({
        ...functions,
        DATABASE_SECRET_ARN: "fn-secret",
        MIGRATION_DATABASE_URL: direct,
      }),
    ).toEqual({ url: direct, secret: undefined });
    const own = migrationDatabaseConfig({
      ...functions,
      DATABASE_SECRET_ARN: "fn-secret",
      MIGRATION_DATABASE_SECRET_ARN: "migration-secret",
    });
    expect(own.secret?.id).toBe("migration-secret");
  });
});

describe("isUnavailable", () => {
  it.each([
    [
      "a fast shutdown or pg_terminate_backend",
      { code: "57P01", message: "terminating connection due to administrator command" },
    ],
    ["the server starting up", { code: "57P03", message: "the database system is starting up" }],
    ["PgBouncer losing its server connection", { code: "08P01", message: "server conn crashed?" }],
    ["the socket closing mid-query", new Error("Connection terminated unexpectedly")],
    [
      "a query on a client whose connection failed",
      new Error("Client has encountered a connection error and is not queryable"),
    ],
  ])("%s", (_, error) => {
    expect(isUnavailable(error)).toBe(true);
  });

  it("is not a request's own error", () => {
    expect(isUnavailable({ code: "23505", message: "duplicate key value violates unique constraint" })).toBe(
      false,
    );
    expect(isUnavailable({ code: "57014", message: "canceling statement due to statement timeout" })).toBe(
      false,
    );
  });
});

describe("the local PgBouncer's ini", () => {
  const ini = pgbouncerIni({
    server: "127.0.0.1:5432",
    listenAddr: "127.0.0.1",
    listenPort: 6543,
    authFile: "/tmp/userlist.txt",
  });

  it("pools transactions and refuses startup parameters, as RDS Proxy does", () => {
    expect(ini).toMatch(/^pool_mode = transaction$/m);
    expect(ini).not.toMatch(/ignore_startup_parameters/);
    expect(ini).toMatch(/^\* = host=127\.0\.0\.1 port=5432$/m);
  });
});
