import {
  CachedSecret,
  jsonSecretField,
  parseJsonSecret,
  type SecretSource,
  SecretsManagerSource,
} from "../aws/secrets.ts";
import { PAGE_TOKEN } from "../config/api.ts";
import type { PageTokenConfig } from "../config.ts";
import { UnavailableError } from "../errors.ts";
import { fixedPageTokenKeys, type PageTokenKeyring, type PageTokenKeys } from "../payments/page-token.ts";

/**
 * The page token keys the api signs and checks with: PAGE_TOKEN_SECRET, or
 * the Secrets Manager secret PAGE_TOKEN_SECRET_ARN names, fetched on first
 * use and again after its cache TTL (a rotation takes effect without a
 * redeploy). If the secret cannot be read, listing fails UNAVAILABLE.
 */
export function pageTokenKeys(config: PageTokenConfig, secrets?: SecretSource): PageTokenKeys {
  if (!config.secretRef) return fixedPageTokenKeys({ current: config.secret });
  const secret = new CachedSecret({
    source: secrets ?? new SecretsManagerSource(),
    secretId: config.secretRef.id,
    parse: pageTokenKeyring,
    ttlMs: config.secretRef.ttlMs,
  });
  return async () => {
    try {
      return await secret.get();
    } catch (error) {
      throw new UnavailableError("page tokens cannot be issued or checked right now; retry later", error);
    }
  };
}

/** The secret's value: the key itself, or {"current": "…", "previous": "…"} while rotating. */
export function pageTokenKeyring(secretString: string): PageTokenKeyring {
  if (!secretString.trimStart().startsWith("{")) return { current: key(secretString, "the key") };
  const json = parseJsonSecret(secretString);
  const current = key(jsonSecretField(json, "current"), 'key "current"');
  if (json.previous === undefined) return { current };
  return { current, previous: key(jsonSecretField(json, "previous"), 'key "previous"') };
}

/** A key obeys the rule PAGE_TOKEN_SECRET declares, wherever it comes from. */
function key(value: string, what: string): string {
  return PAGE_TOKEN.secret.parser.parse(value, what, {});
}
