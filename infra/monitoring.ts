/**
 * Alarms, their SNS topic and a dashboard for a cloud stage, over the EMF
 * metrics the functions write (lib/observability/metrics.ts) and Lambda's
 * own. serverless.ts adds them to dev and prod; thresholds are per-stage
 * settings (infra/stages.ts), documented in the README's Operating section.
 */

export interface AlarmThresholds {
  /** Alarm when the oldest pending outbox event is older than this (ms) at the end of a drain run. */
  outboxLagMs: number;
  /** Alarm when the api answers INTERNAL/UNAVAILABLE (and other server-side codes) this often in 5 minutes. */
  apiServerErrors: number;
  /** Alarm when this many drain runs end in an error (not a broker outage) in 5 minutes. */
  drainFailures: number;
  /**
   * Alarm when retention is this far behind (ms): the oldest row still kept
   * became due for deletion longer ago than this, at the end of a maintenance
   * run, for 10 minutes; or when no maintenance run reported for 10 minutes.
   */
  retentionLagMs: number;
}

export interface MonitoringOptions {
  service: string;
  stage: string;
  /** The EMF namespace (POWERTOOLS_METRICS_NAMESPACE). */
  namespace: string;
  thresholds: AlarmThresholds;
  /** The stage's customer managed key: the topic's messages are encrypted with it. */
  dataKeyArn: unknown;
}

export const ALARM_TOPIC = "AlarmTopic";

// Filled in by the Fn::Sub around the dashboard body.
const REGION_PLACEHOLDER = ["$", "{AWS::Region}"].join("");

type Resource = { Type: string; Properties: Record<string, unknown> };

export function monitoringResources(o: MonitoringOptions): Record<string, Resource> {
  const topic = { Ref: ALARM_TOPIC };
  const fn = (key: string) => `${o.service}-${o.stage}-${key}`;
  const emf = (metric: string, functionKey: string, extra: Record<string, string> = {}) => ({
    Namespace: o.namespace,
    MetricName: metric,
    Dimensions: [
      { Name: "service", Value: o.service },
      { Name: "function", Value: functionKey },
      ...Object.entries(extra).map(([Name, Value]) => ({ Name, Value })),
    ],
  });
  const alarm = (
    name: string,
    description: string,
    metric: Record<string, unknown>,
    statistic: "Sum" | "Maximum",
    threshold: number,
    comparison: "GreaterThanOrEqualToThreshold" | "GreaterThanThreshold",
    options: { evaluationPeriods?: number; missingData?: "breaching" | "notBreaching" } = {},
  ): Resource => ({
    Type: "AWS::CloudWatch::Alarm",
    Properties: {
      AlarmName: `${o.service}-${o.stage}-${name}`,
      AlarmDescription: description,
      ...metric,
      Statistic: statistic,
      Period: 300,
      EvaluationPeriods: options.evaluationPeriods ?? 1,
      Threshold: threshold,
      ComparisonOperator: comparison,
      // By default no data means no drains ran or no calls came: not an alarm by itself.
      TreatMissingData: options.missingData ?? "notBreaching",
      AlarmActions: [topic],
      OKActions: [topic],
    },
  });

  const widget = (title: string, metrics: unknown[][], x: number, y: number, stat = "Sum") => ({
    type: "metric",
    x,
    y,
    width: 12,
    height: 6,
    properties: { title, metrics, stat, period: 60, region: REGION_PLACEHOLDER, view: "timeSeries" },
  });
  const m = (metric: string, functionKey: string, extra: string[] = []) => [
    o.namespace,
    metric,
    "service",
    o.service,
    "function",
    functionKey,
    ...extra,
  ];

  return {
    [ALARM_TOPIC]: {
      Type: "AWS::SNS::Topic",
      Properties: {
        TopicName: `${o.service}-${o.stage}-alarms`,
        DisplayName: `${o.service} ${o.stage} alarms`,
        KmsMasterKeyId: o.dataKeyArn,
      },
    },
    OutboxLagAlarm: alarm(
      "outbox-lag",
      "The oldest undelivered outbox event is older than the threshold: the broker is down or the drain cannot keep up. Check npm run status and the drain's logs.",
      emf("OutboxLag", "drainOutbox"),
      "Maximum",
      o.thresholds.outboxLagMs,
      "GreaterThanThreshold",
    ),
    DeadLettersAlarm: alarm(
      "dead-letters",
      "An event was dead-lettered (payments.dlq, dead_letters). Find it with npm run status, fix the cause, then npm run redrive.",
      emf("DeadLettersRecorded", "deadLetter"),
      "Sum",
      1,
      "GreaterThanOrEqualToThreshold",
    ),
    ApiServerErrorsAlarm: alarm(
      "api-server-errors",
      "The api answered INTERNAL or UNAVAILABLE (a bug, or Postgres down) more often than the threshold.",
      emf("RpcServerErrors", "api"),
      "Sum",
      o.thresholds.apiServerErrors,
      "GreaterThanOrEqualToThreshold",
    ),
    DrainFailuresAlarm: alarm(
      "drain-failures",
      "Drain runs ended in an error other than a broker outage (database, configuration): events are not being delivered.",
      emf("DrainRuns", "drainOutbox", { stoppedBy: "error" }),
      "Sum",
      o.thresholds.drainFailures,
      "GreaterThanOrEqualToThreshold",
    ),
    RetentionBehindAlarm: alarm(
      "retention-behind",
      "Retention is behind (outbox, idempotency keys, inbox or redriven dead letters hold rows past their retention longer than the threshold), or the maintenance function has not reported for 10 minutes. The tables grow until it catches up: check the maintenance function's logs (stoppedBy, lagMs per table) and docs/capacity.md.",
      emf("RetentionLag", "maintenance"),
      "Maximum",
      o.thresholds.retentionLagMs,
      "GreaterThanThreshold",
      // Every run reports (each minute); a missing figure means runs fail or stopped: as bad as a lag.
      { evaluationPeriods: 2, missingData: "breaching" },
    ),
    KafkaTopicMissingAlarm: alarm(
      "kafka-topic-missing",
      "The drain met events whose Kafka topic does not exist (topics are never created on demand). They wait, no attempt counted and nothing dead-lettered, and go by themselves once it exists. The drain's error log names the topic: run npm run topics against the stage's cluster (docs/deploying.md).",
      emf("KafkaTopicMissing", "drainOutbox"),
      "Sum",
      1,
      "GreaterThanOrEqualToThreshold",
    ),
    DeadLetterTopicMissingAlarm: alarm(
      "dead-letter-topic-missing",
      "deadLetter could not publish because the dead-letter topic does not exist: dead letters are kept in dead_letters but are not on the topic, and Lambda's retries run out. Its error log names the topic: run npm run topics against the stage's cluster (docs/deploying.md).",
      emf("KafkaTopicMissing", "deadLetter"),
      "Sum",
      1,
      "GreaterThanOrEqualToThreshold",
    ),
    DrainThrottlesAlarm: alarm(
      "drain-throttles",
      "Lambda throttled drainOutbox: more invocations than its reserved concurrency (nudges beyond the bound are expected to be dropped by the drain slots, not by Lambda).",
      {
        Namespace: "AWS/Lambda",
        MetricName: "Throttles",
        Dimensions: [{ Name: "FunctionName", Value: fn("drainOutbox") }],
      },
      "Sum",
      1,
      "GreaterThanOrEqualToThreshold",
    ),
    Dashboard: {
      Type: "AWS::CloudWatch::Dashboard",
      Properties: {
        DashboardName: `${o.service}-${o.stage}`,
        // A string (CloudFormation wants JSON text here), with the region substituted.
        DashboardBody: {
          "Fn::Sub": JSON.stringify({
            widgets: [
              widget(
                "Payments by status",
                [
                  m("Payments", "api", ["status", "AUTHORIZED", "reason", "NONE"]),
                  m("Payments", "api", ["status", "DECLINED", "reason", "INSUFFICIENT_FUNDS"]),
                  m("Payments", "api", ["status", "DUPLICATE", "reason", "NONE"]),
                ],
                0,
                0,
              ),
              widget(
                "api server errors and AuthorizePayment latency (p99)",
                [
                  m("RpcServerErrors", "api"),
                  [...m("RpcLatency", "api", ["method", "AuthorizePayment", "code", "OK"]), { stat: "p99" }],
                ],
                12,
                0,
              ),
              widget("Outbox lag (ms, max)", [m("OutboxLag", "drainOutbox")], 0, 6, "Maximum"),
              widget(
                "Outbox: published, retried, dead-lettered, waiting on a missing topic",
                [
                  m("OutboxPublished", "drainOutbox"),
                  m("OutboxRetried", "drainOutbox"),
                  m("OutboxDeadLettered", "drainOutbox"),
                  m("DeadLettersRecorded", "deadLetter"),
                  m("KafkaTopicMissing", "drainOutbox"),
                  m("KafkaTopicMissing", "deadLetter"),
                ],
                12,
                6,
              ),
              widget(
                "Retention: lag (ms, max) and rows deleted",
                [
                  [...m("RetentionLag", "maintenance"), { stat: "Maximum", yAxis: "right" }],
                  m("RetentionDeleted", "maintenance", ["table", "outbox"]),
                  m("RetentionDeleted", "maintenance", ["table", "idempotencyKeys"]),
                  m("RetentionDeleted", "maintenance", ["table", "inbox"]),
                ],
                12,
                12,
              ),
              widget(
                "Drain runs by outcome, and throttles",
                [
                  m("DrainRuns", "drainOutbox", ["stoppedBy", "drained"]),
                  m("DrainRuns", "drainOutbox", ["stoppedBy", "broker-unavailable"]),
                  m("DrainRuns", "drainOutbox", ["stoppedBy", "error"]),
                  m("DrainRuns", "drainOutbox", ["stoppedBy", "no-slot"]),
                  ["AWS/Lambda", "Throttles", "FunctionName", fn("drainOutbox")],
                ],
                0,
                12,
              ),
            ],
          }),
        },
      },
    },
  };
}
