/** Logs, metrics and traces: what our code reads, and what Powertools and the X-Ray SDK read themselves. */
import {
  boolean,
  type ConfigOf,
  declare,
  type Env,
  FUNCTION_NAMES,
  integer,
  read,
  readAll,
  text,
} from "./declare.ts";

const WITH_METRICS = ["api", "drainOutbox", "deadLetter", "maintenance"] as const;
const TRACED = ["api", "drainOutbox"] as const;

export const POWERTOOLS_LOG_LEVEL = declare("POWERTOOLS_LOG_LEVEL", text({ example: "WARN" }), {
  default: "INFO",
  doc: "log level of the functions.",
  readBy: FUNCTION_NAMES,
  readByLibrary: "Powertools Logger",
});

export const POWERTOOLS_SERVICE_NAME = declare("POWERTOOLS_SERVICE_NAME", text(), {
  default: "payment-ledger",
  doc: "the service name on every log line and metric.",
  readBy: [...FUNCTION_NAMES, "scripts"],
  setBy: "serverless.ts",
});

export const POWERTOOLS_METRICS_DISABLED = declare("POWERTOOLS_METRICS_DISABLED", boolean, {
  default: false,
  doc: "true stops the EMF metric lines.",
  readBy: WITH_METRICS,
  readByLibrary: "Powertools Metrics",
});

export const AWS_XRAY_DAEMON_ADDRESS = declare(
  "AWS_XRAY_DAEMON_ADDRESS",
  text({ example: "127.0.0.1:2000" }),
  {
    default: "127.0.0.1:2000",
    doc: "where X-Ray segments go over UDP (only with XRAY_TRACING_ENABLED).",
    readBy: TRACED,
    setBy: "Lambda",
    readByLibrary: "aws-xray-sdk-core",
  },
);

export const OBSERVABILITY = {
  namespace: declare("POWERTOOLS_METRICS_NAMESPACE", text(), {
    default: "PaymentLedger",
    doc: "the CloudWatch namespace of every metric.",
    readBy: WITH_METRICS,
  }),
  serviceName: POWERTOOLS_SERVICE_NAME,
};

export type ObservabilityConfig = ConfigOf<typeof OBSERVABILITY>;

export function observabilityConfig(env: Env): ObservabilityConfig {
  return readAll(env, OBSERVABILITY);
}

/** The service name on every log line (lib/logging.ts). */
export function serviceName(env: Env): string {
  return read(env, POWERTOOLS_SERVICE_NAME);
}

export const TRACING = {
  enabled: declare("XRAY_TRACING_ENABLED", boolean, {
    default: false,
    doc:
      "trace with AWS X-Ray (serverless.ts turns it on, with Lambda's active tracing, on dev and prod). " +
      "The api records a subsegment per call; the drain writes each delivered event's publish into its " +
      "payment's trace. Off, the X-Ray SDK is never loaded.",
    readBy: TRACED,
  }),
  publishSegmentsPerBatch: declare("XRAY_PUBLISH_SEGMENTS_PER_BATCH", integer(0, 10_000), {
    default: 20,
    doc:
      "at most this many outbox.publish segments per drained batch (for its first sampled events), so a " +
      "batch of a thousand sampled events cannot flood the X-Ray daemon. 0: none.",
    readBy: TRACED,
  }),
};

export type TracingConfig = ConfigOf<typeof TRACING>;

export function tracingConfig(env: Env): TracingConfig {
  return readAll(env, TRACING);
}
