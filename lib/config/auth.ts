/** How the api verifies callers' JWTs and recognises operators. */
import {
  type ConfigOf,
  declare,
  type Env,
  integer,
  isSet,
  optional,
  type Reader,
  readAll,
  text,
  url,
} from "./declare.ts";

const READ_BY: readonly Reader[] = ["api", "scripts"];

/** Signs local tokens only (npm run token); never set it as JWT_SECRET outside a developer machine. */
export const LOCAL_JWT_SECRET = "local-development-secret-not-for-production";

export const AUTH = {
  jwksUrl: declare("JWT_JWKS_URL", url, {
    default: undefined,
    doc:
      "verify RS256/ES256/EdDSA tokens against this key set (e.g. " +
      "https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json). When set, JWT_SECRET is ignored.",
    readBy: READ_BY,
  }),
  secret: declare("JWT_SECRET", text({ minLength: 32 }), {
    default: LOCAL_JWT_SECRET,
    defaultText: "LOCAL_JWT_SECRET (lib/config/auth.ts)",
    doc: "HS256 shared secret, used when no JWKS URL is set.",
    readBy: READ_BY,
  }),
  issuer: declare("JWT_ISSUER", text(), {
    default: "payment-ledger-local",
    doc: "the required iss claim.",
    readBy: READ_BY,
  }),
  audience: declare("JWT_AUDIENCE", text(), {
    default: "payment-ledger",
    doc: "the required aud claim.",
    readBy: READ_BY,
  }),
  clockToleranceSeconds: declare("JWT_CLOCK_TOLERANCE_SECONDS", integer(0, 300), {
    default: 5,
    doc: "allowed clock skew for exp/nbf/iat (an iat further in the future is refused).",
    readBy: READ_BY,
  }),
  maxTokenAgeSeconds: declare("JWT_MAX_TOKEN_AGE_SECONDS", optional(integer(0)), {
    default: undefined,
    defaultText: "none (0 is none too)",
    doc: "when set, tokens must carry iat and are refused once older than this, whatever their exp says.",
    readBy: READ_BY,
  }),
  operatorClaim: declare("JWT_OPERATOR_CLAIM", text(), {
    default: "scope",
    doc:
      "the claim holding the caller's scopes or roles, either a space-separated string (OAuth scope) or an " +
      "array (roles, cognito:groups).",
    readBy: READ_BY,
  }),
  operatorScope: declare("OPERATOR_SCOPE", text(), {
    default: "ledger:operator",
    doc: "the value in that claim that makes an operator.",
    readBy: READ_BY,
  }),
  verifiedTokenCacheSize: declare("JWT_VERIFIED_CACHE_SIZE", integer(0, 1_000_000), {
    default: 1000,
    doc:
      "verified tokens remembered per container (until each one's exp) so repeat calls skip signature " +
      "checks; 0 disables.",
    readBy: READ_BY,
  }),
};

export type AuthConfig = ConfigOf<typeof AUTH> & {
  /** True when neither JWT_JWKS_URL nor JWT_SECRET is set, so deployments can warn about it. */
  usingLocalSecret: boolean;
};

export function authConfig(env: Env): AuthConfig {
  const usingLocalSecret = !isSet(env, AUTH.jwksUrl) && !isSet(env, AUTH.secret);
  return { ...readAll(env, AUTH), usingLocalSecret };
}
