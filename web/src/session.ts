import { decodeJwt } from "jose";
import type { DevSession } from "./dev-session.ts";

export interface Payee {
  label: string;
  accountId: string;
}

export interface Session {
  subject: string;
  token: string;
  source: "dev" | "pasted";
  /** Accounts the page knows the subject owns from the start (the dev server's demo accounts). */
  accounts: { accountId: string; currency?: string }[];
  payees: Payee[];
}

export class SignInError extends Error {
  override name = "SignInError";
}

/** Local development: a token for a demo owner, minted by the dev server. */
export async function devSignIn(owner: string): Promise<Session> {
  let response: Response;
  try {
    response = await fetch(`/dev/session?owner=${encodeURIComponent(owner)}`);
  } catch {
    throw new SignInError("The dev server did not answer. Is `npm run dev` still running?");
  }
  if (!response.ok)
    throw new SignInError((await response.text()) || `dev server answered ${response.status}`);
  const body = (await response.json()) as DevSession;
  return {
    subject: body.subject,
    token: body.token,
    source: "dev",
    accounts: body.accounts,
    payees: body.payees.map((payee) => ({
      label: `${payee.owner} (${payee.currency})`,
      accountId: payee.accountId,
    })),
  };
}

/**
 * A token from elsewhere (the identity provider). Decoded only to show who it
 * names and to catch an expired one early; the API verifies it.
 */
export function tokenSignIn(raw: string): Session {
  const token = raw.trim().replace(/^Bearer\s+/i, "");
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(token);
  } catch {
    throw new SignInError("That is not a JWT (three base64url parts separated by dots).");
  }
  if (!claims.sub) throw new SignInError("The token has no subject (sub claim).");
  if (claims.exp !== undefined && claims.exp * 1000 < Date.now())
    throw new SignInError(`The token expired at ${new Date(claims.exp * 1000).toISOString()}.`);
  return { subject: claims.sub, token, source: "pasted", accounts: [], payees: [] };
}
