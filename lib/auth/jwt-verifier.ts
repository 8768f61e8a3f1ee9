import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { AuthConfig } from "../config.ts";
import { UnavailableError } from "../errors.ts";
import { UnauthenticatedError } from "./errors.ts";
import type { Principal } from "./principal.ts";
import { VerifiedTokenCache } from "./token-cache.ts";

export interface TokenVerifier {
  /** The caller a bearer token names, or UNAUTHENTICATED (UNAVAILABLE if keys cannot be fetched). */
  verify(token: string): Promise<Principal>;
  /** The caller of a token verify() accepted before and that is still valid; undefined otherwise. */
  verified(token: string): Principal | undefined;
}

// Pinned per key type so a token cannot pick its own algorithm (no "none",
// no HS256 signed with a public key).
const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "EdDSA",
];

/** Marks a failure to obtain the key set, as opposed to a token that does not verify. */
class KeySetUnavailable extends Error {}

export interface VerifierOptions {
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
}

/** Built once per container: the JWKS client and the verified-token cache live across requests. */
export function createTokenVerifier(
  config: AuthConfig,
  verifierOptions: VerifierOptions = {},
): TokenVerifier {
  const now = verifierOptions.now ?? Date.now;
  const key = config.jwksUrl ? remoteKeys(config.jwksUrl) : new TextEncoder().encode(config.secret);
  const cache = new VerifiedTokenCache(config.verifiedTokenCacheSize);
  const options = {
    issuer: config.issuer,
    audience: config.audience,
    algorithms: config.jwksUrl ? ASYMMETRIC_ALGORITHMS : ["HS256"],
    clockTolerance: config.clockToleranceSeconds,
    requiredClaims: ["sub", "exp"],
    ...(config.maxTokenAgeSeconds === undefined ? {} : { maxTokenAge: config.maxTokenAgeSeconds }),
  };
  return {
    verified(token) {
      return cache.get(token, now());
    },
    async verify(token) {
      const nowMs = now();
      const cached = cache.get(token, nowMs);
      if (cached) return cached;
      let payload: JWTPayload;
      try {
        const verifyOptions = { ...options, currentDate: new Date(nowMs) };
        // The overloads differ for a key and a key resolver; both are valid here.
        ({ payload } =
          key instanceof Uint8Array
            ? await jwtVerify(token, key, verifyOptions)
            : await jwtVerify(token, key, verifyOptions));
      } catch (error) {
        if (error instanceof KeySetUnavailable) {
          throw new UnavailableError("token signing keys are unavailable; retry later", error.cause);
        }
        if (error instanceof errors.JOSEError) throw new UnauthenticatedError(describe(error), error);
        throw error;
      }
      if (typeof payload.sub !== "string" || payload.sub === "") {
        throw new UnauthenticatedError("invalid token: sub must be a non-empty string");
      }
      // jose checks a future iat only when a maximum age is set; a token from
      // the future is refused either way.
      if (typeof payload.iat === "number" && payload.iat > nowMs / 1000 + config.clockToleranceSeconds) {
        throw new UnauthenticatedError("token was issued in the future");
      }
      // Until the token's own exp (or maximum age), without the skew allowance.
      // (exp is a required claim: jose refused the token without one.)
      const maxAgeEnd =
        config.maxTokenAgeSeconds !== undefined && typeof payload.iat === "number"
          ? (payload.iat + config.maxTokenAgeSeconds) * 1000
          : Number.POSITIVE_INFINITY;
      const principal: Principal = {
        subject: payload.sub,
        operator: grants(payload[config.operatorClaim], config.operatorScope),
        validUntilMs: Math.min((payload.exp ?? 0) * 1000, maxAgeEnd),
      };
      cache.set(token, principal, principal.validUntilMs);
      return principal;
    },
  };
}

function remoteKeys(url: string): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: 2000, cooldownDuration: 30_000 });
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (error) {
      // An unknown kid is the token's fault; anything else is the key server's.
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
        throw error;
      }
      throw new KeySetUnavailable("key set unavailable", { cause: error });
    }
  };
}

/** A scope string ("a b c", OAuth) or a list of roles/groups, holding `wanted`. */
function grants(claim: unknown, wanted: string): boolean {
  if (typeof claim === "string") return claim.split(/\s+/).includes(wanted);
  if (Array.isArray(claim)) return claim.includes(wanted);
  return false;
}

function describe(error: InstanceType<typeof errors.JOSEError>): string {
  if (error instanceof errors.JWTExpired) {
    return error.claim === "iat" ? "token is older than the maximum token age" : "token has expired";
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iat") {
      return error.reason === "missing" ? "invalid token: iat is required" : "token was issued in the future";
    }
    if (error.claim === "iss") return "token issuer is not accepted";
    if (error.claim === "aud") return "token audience is not accepted";
    if (error.claim === "nbf") return "token is not valid yet";
    return `invalid token: ${error.message}`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return "invalid token: signature does not verify";
  if (error instanceof errors.JOSEAlgNotAllowed) return "invalid token: signing algorithm not accepted";
  return `invalid token: ${error.message}`;
}
