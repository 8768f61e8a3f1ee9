/** Settings only the command-line tools and local servers read (scripts/, web/dev/, serverless offline). */
import {
  boolean,
  ConfigError,
  type ConfigOf,
  declare,
  type Env,
  integer,
  type Parser,
  readAll,
  text,
} from "./declare.ts";

export const CONSUMER = {
  groupId: declare("CONSUMER_GROUP_ID", text(), {
    default: "payment-ledger-sample",
    doc: "the sample consumer's group (npm run consume); also its name in the inbox table.",
    readBy: ["scripts"],
  }),
  fromBeginning: declare("CONSUMER_FROM_BEGINNING", boolean, {
    default: true,
    doc: "a new group starts at the oldest retained message.",
    readBy: ["scripts"],
  }),
  partitionsConcurrently: declare("CONSUMER_PARTITIONS_CONCURRENTLY", integer(1, 100), {
    default: 1,
    doc: "partitions processed at once (each still in order); one at a time keeps up with a few hundred events/s.",
    readBy: ["scripts"],
  }),
};

export type ConsumerConfig = ConfigOf<typeof CONSUMER>;

export function consumerConfig(env: Env): ConsumerConfig {
  return readAll(env, CONSUMER);
}

/** Host names the local servers always answer to. */
export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

/** Comma-separated host names (no port or scheme), lower-cased, after the loopback ones. */
const allowedHosts: Parser<string[]> = {
  type: "comma-separated host names",
  parse(raw, name) {
    const extra = raw
      .split(",")
      .map((host) => host.trim().toLowerCase())
      .filter((host) => host.length > 0);
    const malformed = extra.find((host) => !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/.test(host));
    if (malformed !== undefined) {
      throw new ConfigError(`${name} takes host names without port or scheme, got "${malformed}"`);
    }
    return [...new Set([...LOOPBACK_HOSTS, ...extra])];
  },
  format: (hosts) => hosts.join(","),
  example: "ledger.test",
};

export const DEV = {
  summaryIntervalMs: declare("DEV_SUMMARY_INTERVAL_MS", integer(0, 3_600_000), {
    default: 5000,
    doc:
      "how often `npm run dev` reads its database for the one-line summary (payments/s, declines, pending, " +
      "lag, dead letters); a line is printed only when something moved. 0 turns it off.",
    readBy: ["scripts"],
  }),
  allowedHosts: declare("DEV_ALLOWED_HOSTS", allowedHosts, {
    default: LOOPBACK_HOSTS,
    defaultText: "none (localhost, 127.0.0.1 and [::1] only)",
    doc:
      "comma-separated host names (no port) the local servers (web client dev server and event feed, " +
      "serverless offline) answer besides localhost, 127.0.0.1 and [::1]; any other Host gets 403, so a " +
      "page on a DNS-rebound name reaches none of them.",
    readBy: ["scripts", "serverless.ts"],
  }),
};

export type DevConfig = ConfigOf<typeof DEV>;

export function devConfig(env: Env): DevConfig {
  return readAll(env, DEV);
}
