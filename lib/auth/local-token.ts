import { SignJWT } from "jose";
import type { AuthConfig } from "../config.ts";

export interface LocalTokenOptions {
  subject: string;
  operator?: boolean;
  /** Lifetime in seconds, default 3600. */
  ttlSeconds?: number;
}

/**
 * An HS256 token the api accepts under `config` (issuer, audience, secret,
 * operator claim). For local use and tests; production tokens come from the
 * identity provider behind JWT_JWKS_URL.
 */
export async function signLocalToken(config: AuthConfig, options: LocalTokenOptions): Promise<string> {
  const claims = options.operator ? { [config.operatorClaim]: config.operatorScope } : {};
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.subject)
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setIssuedAt()
    .setExpirationTime(`${options.ttlSeconds ?? 3600}s`)
    .sign(new TextEncoder().encode(config.secret));
}
