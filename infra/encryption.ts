/**
 * dev/prod: one customer managed key per stage for the data at rest that
 * carries payment details: the log groups, the dead-letter failures queue and
 * the alarm topic. Revoking or auditing access to them is then a key policy,
 * not a hunt through IAM. (LocalStack and offline have no use for it.)
 */
import type { Deployment } from "./deployment.ts";
import { SERVICE } from "./stages.ts";

const DATA_KEY = "DataKey";
export const DATA_KEY_ARN = { "Fn::GetAtt": [DATA_KEY, "Arn"] };

/** The stages deployed to AWS (those with secrets in Secrets Manager) have the key. */
export const hasDataKey = (d: Deployment): boolean => d.settings.secrets !== undefined;

/** The framework's log groups: every function's and the HTTP API's access log. */
const LOG_GROUPS = [
  "ApiLogGroup",
  "DrainOutboxLogGroup",
  "DeadLetterLogGroup",
  "MigrateLogGroup",
  "MaintenanceLogGroup",
  "HttpApiLogGroup",
];

/** The key, with a policy that lets CloudWatch Logs and alarms use it for this stage only. */
export function dataKeyResource(d: Deployment) {
  return {
    [DATA_KEY]: {
      Type: "AWS::KMS::Key",
      Properties: {
        Description: `${SERVICE}-${d.stage}: its log groups and dead-letter failures queue`,
        EnableKeyRotation: true,
        KeyPolicy: {
          Version: "2012-10-17",
          Statement: [
            {
              // The account administers the key, so IAM policies (the roles in infra/iam.ts) can grant its use.
              Sid: "AccountAdministers",
              Effect: "Allow",
              Principal: { AWS: { "Fn::Sub": `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:root` } },
              Action: "kms:*",
              Resource: "*",
            },
            {
              // Alarms publish to the alarm topic, which this key encrypts.
              Sid: "CloudWatchAlarmsPublishToTheAlarmTopic",
              Effect: "Allow",
              Principal: { Service: "cloudwatch.amazonaws.com" },
              Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
              Resource: "*",
            },
            {
              Sid: "CloudWatchLogsEncryptsThisServicesLogGroups",
              Effect: "Allow",
              Principal: { Service: { "Fn::Sub": `logs.\${AWS::Region}.amazonaws.com` } },
              Action: [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
              ],
              Resource: "*",
              Condition: {
                ArnLike: {
                  "kms:EncryptionContext:aws:logs:arn": [
                    {
                      "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${SERVICE}-${d.stage}-*`,
                    },
                    {
                      "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/http-api/${SERVICE}-${d.stage}`,
                    },
                  ],
                },
              },
            },
          ],
        },
      },
    },
  };
}

/** Extensions of the framework's log groups: encrypted with the data key. */
export function logGroupEncryption() {
  return Object.fromEntries(LOG_GROUPS.map((id) => [id, { Properties: { KmsKeyId: DATA_KEY_ARN } }]));
}
