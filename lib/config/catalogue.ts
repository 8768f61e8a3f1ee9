/**
 * Every setting, by concern, in the order docs/configuration.md lists them,
 * and what derives from the whole list: the names the local stage forwards
 * from the shell. A setting missing here is missing from the reference and
 * from the local stage, and tests/unit/config-declarations.test.ts fails.
 */
import { API, PAGE_TOKEN } from "./api.ts";
import { AUTH } from "./auth.ts";
import { LAMBDA_CLIENT, LAMBDA_RUNTIME } from "./aws.ts";
import { DATABASE, MIGRATION_DATABASE, MIGRATIONS } from "./database.ts";
import { FUNCTION_NAMES, type FunctionName, type Reader, type Setting } from "./declare.ts";
import { KAFKA, TOPICS } from "./kafka.ts";
import {
  AWS_XRAY_DAEMON_ADDRESS,
  OBSERVABILITY,
  POWERTOOLS_LOG_LEVEL,
  POWERTOOLS_METRICS_DISABLED,
  TRACING,
} from "./observability.ts";
import { OUTBOX } from "./outbox.ts";
import { LEDGER, PAYMENTS } from "./payments.ts";
import { RETENTION } from "./retention.ts";
import { SECRETS_CACHE_TTL_SECONDS } from "./secrets.ts";
import { API_FUNCTION_URL, DRAIN_SCHEDULE, ESBUILD_WORK_FOLDER } from "./stage.ts";
import { CONSUMER, DEV } from "./tools.ts";

export interface Concern {
  title: string;
  settings: readonly Setting<unknown>[];
}

const all = (...groups: Record<string, Setting<unknown>>[]) =>
  groups.flatMap((group) => Object.values(group));

export const CONCERNS: readonly Concern[] = [
  {
    title: "Database",
    settings: [...all(DATABASE, MIGRATION_DATABASE, MIGRATIONS), SECRETS_CACHE_TTL_SECONDS],
  },
  { title: "Payments and ledger", settings: all(PAYMENTS, LEDGER) },
  { title: "Api", settings: all(API, PAGE_TOKEN) },
  { title: "Authentication", settings: all(AUTH) },
  { title: "Outbox", settings: all(OUTBOX) },
  { title: "Retention (maintenance)", settings: all(RETENTION) },
  { title: "Kafka", settings: all(KAFKA, TOPICS) },
  { title: "Lambda", settings: all(LAMBDA_CLIENT, LAMBDA_RUNTIME) },
  {
    title: "Logs, metrics and traces",
    settings: [
      POWERTOOLS_LOG_LEVEL,
      ...all(OBSERVABILITY),
      POWERTOOLS_METRICS_DISABLED,
      ...all(TRACING),
      AWS_XRAY_DAEMON_ADDRESS,
    ],
  },
  { title: "Command-line tools and local servers", settings: all(CONSUMER, DEV) },
  { title: "Packaging (serverless.ts)", settings: [DRAIN_SCHEDULE, API_FUNCTION_URL, ESBUILD_WORK_FOLDER] },
];

export const SETTINGS: readonly Setting<unknown>[] = CONCERNS.flatMap((concern) => concern.settings);

export function isFunction(reader: Reader): reader is FunctionName {
  return (FUNCTION_NAMES as readonly string[]).includes(reader);
}

/**
 * Whether the local stage forwards a setting from the shell to the functions:
 * every setting a function reads, except those serverless.ts or Lambda set.
 */
export function forwardedByLocalStage(setting: Setting<unknown>): boolean {
  return setting.setBy === undefined && setting.readBy.some(isFunction);
}

/** The names the local stage forwards from the shell (infra/stages.ts). */
export const LOCAL_STAGE_SETTINGS: ReadonlySet<string> = new Set(
  SETTINGS.filter(forwardedByLocalStage).map((setting) => setting.name),
);
