/**
 * Every setting, read from the environment once per container, each with a
 * documented default (the README's configuration table mirrors this file).
 * A malformed value fails loudly at start-up instead of being ignored.
 */

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function readString(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === "" ? fallback : value;
}

export function readInt(
  env: Env,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

export function readList(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export interface DatabaseConfig {
  /** DATABASE_URL, default postgres://postgres:postgres@127.0.0.1:5432/ledger */
  url: string;
  /** DB_POOL_MAX, default 5: a Lambda container serves one request at a time. */
  poolMax: number;
  /** DB_STATEMENT_TIMEOUT_MS, default 5000. */
  statementTimeoutMs: number;
  /** DB_CONNECT_TIMEOUT_MS, default 3000: fail fast (UNAVAILABLE) when Postgres is down. */
  connectTimeoutMs: number;
}

export function databaseConfig(env: Env = process.env): DatabaseConfig {
  return {
    url: readString(env, "DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/ledger"),
    poolMax: readInt(env, "DB_POOL_MAX", 5, 1, 1000),
    statementTimeoutMs: readInt(env, "DB_STATEMENT_TIMEOUT_MS", 5000, 0),
    connectTimeoutMs: readInt(env, "DB_CONNECT_TIMEOUT_MS", 3000, 0),
  };
}

export interface PaymentsConfig {
  /** IDEMPOTENCY_KEY_TTL_SECONDS, default 86400 (24 h). */
  idempotencyKeyTtlSeconds: number;
}

export function paymentsConfig(env: Env = process.env): PaymentsConfig {
  return {
    idempotencyKeyTtlSeconds: readInt(env, "IDEMPOTENCY_KEY_TTL_SECONDS", 86_400, 1),
  };
}
