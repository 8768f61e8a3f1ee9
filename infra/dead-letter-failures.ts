/**
 * The safety net under the dead-letter function: an asynchronous invocation of
 * deadLetter that still fails after Lambda's retries lands in an SQS queue
 * (its on-failure destination, infra/functions.ts), with an alarm on it. The
 * event is already in dead_letters by then: `npm run redrive` republishes it.
 */
import type { Deployment } from "./deployment.ts";
import { DATA_KEY_ARN, hasDataKey } from "./encryption.ts";
import { ALARM_TOPIC } from "./monitoring.ts";
import { SERVICE } from "./stages.ts";

export const DEAD_LETTER_FAILURES = "DeadLetterFailuresQueue";
export const DEAD_LETTER_FAILURES_ARN = { "Fn::GetAtt": [DEAD_LETTER_FAILURES, "Arn"] };

export function deadLetterFailuresQueue(d: Deployment) {
  return {
    [DEAD_LETTER_FAILURES]: {
      Type: "AWS::SQS::Queue",
      Properties: {
        QueueName: `${SERVICE}-${d.stage}-dead-letter-failures`,
        MessageRetentionPeriod: 1_209_600,
        // dev/prod: the data key; local: SQS-managed encryption (LocalStack has no use for a key).
        ...(hasDataKey(d) ? { KmsMasterKeyId: DATA_KEY_ARN } : { SqsManagedSseEnabled: true }),
      },
    },
  };
}

export function deadLetterFailuresAlarm(d: Deployment) {
  return {
    DeadLetterFailuresAlarm: {
      Type: "AWS::CloudWatch::Alarm",
      Properties: {
        AlarmName: `${SERVICE}-${d.stage}-dead-letter-failures`,
        AlarmDescription:
          "An event could be neither published nor dead-lettered: it waits in the failures queue for a redrive.",
        Namespace: "AWS/SQS",
        MetricName: "ApproximateNumberOfMessagesVisible",
        Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [DEAD_LETTER_FAILURES, "QueueName"] } }],
        Statistic: "Maximum",
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
        ComparisonOperator: "GreaterThanThreshold",
        TreatMissingData: "notBreaching",
        ...(d.settings.alarms && { AlarmActions: [{ Ref: ALARM_TOPIC }], OKActions: [{ Ref: ALARM_TOPIC }] }),
      },
    },
  };
}
