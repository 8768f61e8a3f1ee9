/**
 * One role per function, so each holds only what it uses: its own log stream,
 * plus the statements given here. Only api may invoke drainOutbox and only
 * drainOutbox may invoke deadLetter; nothing else can invoke anything. Each
 * may read exactly the secrets its function uses (none on the local stage).
 */
import { DEAD_LETTER_FAILURES_ARN } from "./dead-letter-failures.ts";
import { type Deployment, functionName } from "./deployment.ts";
import { DATA_KEY_ARN, hasDataKey } from "./encryption.ts";

type Statement = { Effect: "Allow"; Action: string[]; Resource: unknown; Condition?: unknown };

const KAFKA_SECRET_KEY = "KafkaSecretKeyArn";

/**
 * Active tracing: the X-Ray daemon in each function's sandbox sends the
 * function's segments (Lambda's and the SDK's) with the function's role, and
 * Lambda refuses to create a traced function whose role lacks PutTraceSegments.
 * X-Ray has no resource narrower than "*" for these two. The framework would
 * add them to its shared default role; each function here has its own.
 */
const XRAY_WRITE: Statement = {
  Effect: "Allow",
  Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
  Resource: "*",
};

const functionArn = (d: Deployment, key: string) => ({
  "Fn::Sub": `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${functionName(d.stage, key)}`,
});

/** The role of each function (resource ids as the functions name them in infra/functions.ts). */
export function roles(d: Deployment) {
  return {
    ApiRole: role(d, "api", [
      { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [functionArn(d, "drainOutbox")] },
      ...readSecrets(d, "database", "pageToken"),
    ]),
    DrainOutboxRole: role(d, "drainOutbox", [
      { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [functionArn(d, "deadLetter")] },
      ...readSecrets(d, "database", "kafka"),
    ]),
    DeadLetterRole: role(d, "deadLetter", [
      {
        Effect: "Allow",
        Action: ["sqs:SendMessage"],
        Resource: [DEAD_LETTER_FAILURES_ARN],
      },
      // Sending to a queue encrypted with the data key needs the key.
      ...(hasDataKey(d)
        ? [
            {
              Effect: "Allow" as const,
              Action: ["kms:GenerateDataKey", "kms:Decrypt"],
              Resource: [DATA_KEY_ARN],
            },
          ]
        : []),
      ...readSecrets(d, "database", "kafka"),
    ]),
    MaintenanceRole: role(d, "maintenance", readSecrets(d, "database")),
    MigrateRole: role(d, "migrate", readSecrets(d, "database", "databaseMigrations")),
  };
}

/** prod: the MSK secret's KMS key, named by an SSM parameter the stack reads at deploy time. */
export function kafkaKeyParameter(d: Deployment) {
  const name = d.settings.secrets?.kafkaKeyParameter;
  return name ? { [KAFKA_SECRET_KEY]: { Type: "AWS::SSM::Parameter::Value<String>", Default: name } } : {};
}

function role(d: Deployment, key: string, statements: Statement[] = []) {
  return {
    Type: "AWS::IAM::Role",
    Properties: {
      AssumeRolePolicyDocument: {
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      },
      // Network interfaces for the VPC; this AWS policy is the documented minimum.
      ManagedPolicyArns: d.settings.vpc
        ? [
            {
              "Fn::Sub": `arn:\${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`,
            },
          ]
        : [],
      Policies: [
        {
          PolicyName: `${functionName(d.stage, key)}-policy`,
          PolicyDocument: {
            Version: "2012-10-17",
            Statement: [
              {
                // The framework creates the log group; the function only writes to it.
                Effect: "Allow",
                Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                Resource: {
                  "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName(d.stage, key)}:*`,
                },
              },
              ...(d.settings.tracing ? [XRAY_WRITE] : []),
              ...statements,
            ],
          },
        },
      ],
    },
  };
}

/**
 * Secrets Manager ARNs end in a random six-character suffix the stack cannot
 * know; `-??????` matches exactly that suffix, so the grant covers this one
 * secret and no other whose name merely starts the same.
 */
const secretArn = (name: string) => ({
  "Fn::Sub": `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${name}-??????`,
});

/** Read access to exactly the secrets a function uses (none on the local stage). */
function readSecrets(
  d: Deployment,
  ...uses: ("database" | "databaseMigrations" | "kafka" | "pageToken")[]
): Statement[] {
  const secrets = d.settings.secrets;
  if (!secrets) return [];
  const statements: Statement[] = [
    {
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: uses.map((use) => secretArn(secrets[use])),
    },
  ];
  if (uses.includes("kafka") && secrets.kafkaKeyParameter) {
    // The MSK secret's own KMS key, and only for Secrets Manager's use of it.
    statements.push({
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [{ Ref: KAFKA_SECRET_KEY }],
      Condition: {
        StringEquals: { "kms:ViaService": { "Fn::Sub": `secretsmanager.\${AWS::Region}.amazonaws.com` } },
      },
    });
  }
  return statements;
}
