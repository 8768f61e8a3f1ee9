/** The api function: request limits, CORS, health checks, its deadline margin and its page token key. */
import {
  type ConfigOf,
  declare,
  type Env,
  integer,
  isSet,
  list,
  type Reader,
  readAll,
  text,
} from "./declare.ts";
import { secretReference } from "./secrets.ts";

const READ_BY: readonly Reader[] = ["api", "scripts"];

export const API = {
  maxRequestBytes: declare("MAX_REQUEST_BYTES", integer(64, 6 * 1_048_576), {
    default: 1_048_576,
    doc: "larger request messages fail RESOURCE_EXHAUSTED unread.",
    readBy: READ_BY,
  }),
  corsAllowedOrigins: declare("CORS_ALLOWED_ORIGINS", list("https://app.example.com"), {
    default: [],
    defaultText: "none (no cross-origin browser calls)",
    doc:
      "comma-separated origins such as https://app.example.com, or * for any origin (tokens are bearer " +
      "headers, never cookies, so a wildcard exposes no ambient credentials).",
    readBy: READ_BY,
  }),
  corsMaxAgeSeconds: declare("CORS_MAX_AGE_SECONDS", integer(0, 86_400), {
    default: 7200,
    doc: "how long browsers may cache a preflight answer.",
    readBy: READ_BY,
  }),
  healthCheckTimeoutMs: declare("HEALTH_CHECK_TIMEOUT_MS", integer(1), {
    default: 1000,
    doc: "Health/Check reports NOT_SERVING if Postgres is slower.",
    readBy: READ_BY,
  }),
  deadlineMarginMs: declare("LAMBDA_DEADLINE_MARGIN_MS", integer(0), {
    default: 200,
    doc: "calls end DEADLINE_EXCEEDED this long before the Lambda times out.",
    readBy: READ_BY,
  }),
};

export type ApiConfig = ConfigOf<typeof API>;

export function apiConfig(env: Env): ApiConfig {
  return readAll(env, API);
}

/** Signs local page tokens only; never set it as PAGE_TOKEN_SECRET outside a developer machine. */
export const LOCAL_PAGE_TOKEN_SECRET = "local-page-token-secret-not-for-production";

export const PAGE_TOKEN = {
  secret: declare("PAGE_TOKEN_SECRET", text({ minLength: 32 }), {
    default: LOCAL_PAGE_TOKEN_SECRET,
    defaultText: "LOCAL_PAGE_TOKEN_SECRET (lib/config/api.ts)",
    doc:
      "the HMAC key that binds ListLedgerEntries' page tokens to their account and caller; ignored when " +
      "PAGE_TOKEN_SECRET_ARN is set. Every container of a stage needs the same key; a token signed with " +
      "another key is refused INVALID_ARGUMENT.",
    readBy: ["api"],
  }),
  secretRef: declare("PAGE_TOKEN_SECRET_ARN", secretReference, {
    default: undefined,
    doc:
      "read the key from this Secrets Manager secret at run time instead (dev and prod: infra/stages.ts " +
      'names it): the key as the whole SecretString, or {"current": "…", "previous": "…"} to rotate ' +
      "without ending listings in progress (new tokens use current; both are accepted).",
    readBy: ["api"],
  }),
};

export type PageTokenConfig = ConfigOf<typeof PAGE_TOKEN> & {
  /** True when neither is set, so deployments can warn about it. */
  usingLocalSecret: boolean;
};

export function pageTokenConfig(env: Env): PageTokenConfig {
  const usingLocalSecret = !isSet(env, PAGE_TOKEN.secret) && !isSet(env, PAGE_TOKEN.secretRef);
  return { ...readAll(env, PAGE_TOKEN), usingLocalSecret };
}
