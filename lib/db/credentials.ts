import { jsonSecretField, parseJsonSecret } from "../aws/secrets.ts";

/**
 * The database URL held by a secret. Two shapes: RDS's (`username`, `password`,
 * `host`, `port`, `dbname`: what Secrets Manager's managed rotation writes, so
 * rotation keeps working) and `{"url": "postgres://…"}` for a URL kept whole.
 * RDS's shape connects with TLS required (RDS and RDS Proxy both offer it).
 */
export function databaseUrlFromSecret(secretString: string): string {
  const secret = parseJsonSecret(secretString);
  if (typeof secret.url === "string") {
    if (!URL.canParse(secret.url)) throw new Error(`key "url" is not a URL`);
    return secret.url;
  }
  const url = new URL("postgres://placeholder");
  url.hostname = jsonSecretField(secret, "host");
  const port = secret.port;
  if (port !== undefined) url.port = String(port);
  url.username = encodeURIComponent(jsonSecretField(secret, "username"));
  url.password = encodeURIComponent(jsonSecretField(secret, "password"));
  url.pathname = `/${encodeURIComponent(typeof secret.dbname === "string" ? secret.dbname : "postgres")}`;
  url.searchParams.set("sslmode", typeof secret.sslmode === "string" ? secret.sslmode : "require");
  return url.toString();
}

// 28P01 invalid_password, 28000 invalid_authorization_specification (no such role, pg_hba refusal).
const CREDENTIALS_SQLSTATES = new Set(["28P01", "28000"]);

/** True when Postgres refused the login itself, the one error a fresher secret can fix. */
export function isCredentialsRejected(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && CREDENTIALS_SQLSTATES.has(code);
}
