/**
 * Dev-only sign-in: a token for a demo owner, signed with the local
 * development secret. Lives in the dev server, so no deployed stage has it.
 */
import { signLocalToken } from "../../lib/auth/local-token.ts";
import type { AuthConfig } from "../../lib/config.ts";
import type { Account } from "../../lib/payments/model.ts";
import type { DevSession } from "../src/dev-session.ts";

const TOKEN_TTL_SECONDS = 8 * 3600;

export interface DevSessions {
  /** The session for a demo owner; undefined for anyone else. */
  issue(owner: string): Promise<DevSession | undefined>;
  /** Why no session can be issued at all, if so. */
  unavailableReason(): string | undefined;
}

/** `accounts`: each demo owner's account (scripts/demo-seed.ts). */
export function createDevSessions(auth: AuthConfig, accounts: Record<string, Account>): DevSessions {
  return {
    unavailableReason: () =>
      auth.jwksUrl
        ? "JWT_JWKS_URL is set: the api verifies tokens against that key set, so a locally signed token would be refused. Paste a token from your identity provider."
        : undefined,
    async issue(owner) {
      const own = accounts[owner];
      if (!own || !Object.hasOwn(accounts, owner)) return undefined;
      const token = await signLocalToken(auth, { subject: owner, ttlSeconds: TOKEN_TTL_SECONDS });
      return {
        subject: owner,
        token,
        accounts: [{ accountId: own.accountId, currency: own.currency }],
        payees: Object.entries(accounts)
          .filter(([other]) => other !== owner)
          .map(([other, account]) => ({
            owner: other,
            accountId: account.accountId,
            currency: account.currency,
          })),
      };
    },
  };
}
