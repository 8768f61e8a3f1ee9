/**
 * Settings that name a Secrets Manager secret, and how long its value is
 * cached. Only the secret's name is in a function's configuration; the value
 * is read at run time (lib/aws/secrets.ts), so a rotation needs no redeploy.
 */
import { declare, FUNCTION_NAMES, integer, type Parser, read } from "./declare.ts";

/** A Secrets Manager secret a setting is read from at run time, and how long its value is cached. */
export interface SecretReference {
  /** The secret's ARN or name. */
  id: string;
  /** SECRETS_CACHE_TTL_SECONDS, in milliseconds. */
  ttlMs: number;
}

export const SECRETS_CACHE_TTL_SECONDS = declare("SECRETS_CACHE_TTL_SECONDS", integer(0, 86_400), {
  default: 300,
  doc:
    "a container fetches a secret (DATABASE_SECRET_ARN, KAFKA_SASL_SECRET_ARN, PAGE_TOKEN_SECRET_ARN) again " +
    "after this long, so a rotation takes effect without a redeploy. A credentials error from Postgres or " +
    "Kafka fetches it at once (once, then gives up). Read only where a secret is named.",
  readBy: [...FUNCTION_NAMES, "scripts"],
});

/** A secret's ARN or name; its value carries the cache TTL (SECRETS_CACHE_TTL_SECONDS). */
export const secretReference: Parser<SecretReference> = {
  type: "Secrets Manager secret ARN or name",
  parse: (id, _name, env) => ({ id, ttlMs: read(env, SECRETS_CACHE_TTL_SECONDS) * 1000 }),
  format: (secret) => secret.id,
  example: "payment-ledger/example/secret",
};
