import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidArgumentError } from "../errors.ts";

/**
 * ListLedgerEntries' page tokens. A token names where the next page starts
 * (the last entry the caller was shown, an id it already has) and is bound
 * by an HMAC to the account and the caller it was issued for, so it says
 * nothing the caller did not know (no global statement position) and works
 * nowhere else: another account, another caller, an altered token, one of
 * another deployment's key, or a bare `v1:<position>` of the release before
 * tokens were bound. Those all get one and the same INVALID_ARGUMENT.
 *
 * `v1:` tokens are refused rather than honoured: anyone could write one, so
 * accepting them would keep exactly the unbound, cross-account cursor this
 * replaces. A client holding one lists again from the first page.
 */

/** Who a token is for: the account listed and the caller's subject ('' for in-process callers). */
export interface PageTokenScope {
  accountId: string;
  owner: string;
}

/**
 * The keys: `current` signs new tokens; tokens signed with `previous` are
 * still accepted, so a key rotation does not end listings in progress.
 */
export interface PageTokenKeyring {
  current: string;
  previous?: string;
}

/** Where the keys come from, asked on every issue and check (a cached secret, or a fixed local key). */
export type PageTokenKeys = () => Promise<PageTokenKeyring>;

const VERSION = "v2";
const SHAPE = /^v2\.([0-9A-HJKMNP-TV-Z]{26})\.([A-Za-z0-9_-]{43})$/;
const REFUSED = "is not a token issued for this listing; list again without one";

export class PageTokens {
  constructor(private readonly keys: PageTokenKeys) {}

  /** The token for the page after `lastEntryId`. */
  async issue(scope: PageTokenScope, lastEntryId: string): Promise<string> {
    const { current } = await this.keys();
    return `${VERSION}.${lastEntryId}.${mac(current, scope, lastEntryId).toString("base64url")}`;
  }

  /** The entry the page starts after, or undefined for the first page; refuses any token not issued for `scope`. */
  async open(scope: PageTokenScope, token: string): Promise<string | undefined> {
    if (token === "") return undefined;
    const match = SHAPE.exec(token);
    const entryId = match?.[1];
    // Compared as text, not decoded: base64url's last character has spare
    // bits, and a token that differs only there is still not the one issued.
    const given = match?.[2] ? Buffer.from(match[2]) : undefined;
    if (!entryId || !given) throw refused();
    const { current, previous } = await this.keys();
    for (const key of previous === undefined ? [current] : [current, previous]) {
      if (timingSafeEqual(Buffer.from(mac(key, scope, entryId).toString("base64url")), given)) return entryId;
    }
    throw refused();
  }
}

/** A fixed keyring, for a key read from the environment or tests. */
export function fixedPageTokenKeys(keyring: PageTokenKeyring): PageTokenKeys {
  return () => Promise.resolve(keyring);
}

function mac(key: string, scope: PageTokenScope, entryId: string): Buffer {
  // JSON of a fixed-order tuple: no field can spill into another.
  const message = JSON.stringify([VERSION, scope.accountId, scope.owner, entryId]);
  return createHmac("sha256", key).update(message).digest();
}

function refused(): InvalidArgumentError {
  return new InvalidArgumentError("page_token", REFUSED);
}
