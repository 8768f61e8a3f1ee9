/**
 * The deployable service: five Lambdas, their HTTP API, schedules, roles and
 * the dead-letter safety net.
 *
 * Stages:
 *   local  settings from the shell environment (serverless offline, LocalStack);
 *          anything unset falls back to the defaults in lib/config.ts.
 *   dev    settings from SSM Parameter Store and Secrets Manager.
 *   prod   the same, plus a VPC so the functions reach Postgres through RDS Proxy.
 *
 * Why CloudFormation dynamic references ({{resolve:ssm:...}}) instead of the
 * framework's ${ssm:...}: the framework resolves ${ssm:...} on every command,
 * so `serverless package` would need AWS credentials and SSM access, and it
 * would bake the values into the template in the deployment bucket. Dynamic
 * references are resolved by CloudFormation during the deploy, so packaging
 * any stage works offline and the template holds only parameter names.
 * Secrets (the database connection, Kafka SASL credentials) are different:
 * a dynamic reference would put their plaintext into the functions'
 * configuration, readable by anyone with lambda:GetFunctionConfiguration, and
 * a rotation would need a redeploy. So the environment names the secret
 * (DATABASE_SECRET_ARN, KAFKA_SASL_SECRET_ARN) and the function reads it from
 * Secrets Manager at run time (lib/aws/secrets.ts); each role may read exactly
 * the secrets its function uses.
 *
 * Security scanner (checkov) findings this template accepts are suppressed in
 * the resources' Metadata, each with its reason (search for `checkov`).
 *
 * The stage is read from the command line (--stage / -s, default local)
 * because the whole shape differs per stage (VPC, parameters), not just values.
 */

import type { AWS } from "serverless";
import { ALARM_TOPIC, type AlarmThresholds, monitoringResources } from "./infra/monitoring.ts";

const SERVICE = "payment-ledger";
const STAGES = ["local", "dev", "prod"] as const;
type Stage = (typeof STAGES)[number];

type Environment = Record<string, string>;
type Statement = { Effect: "Allow"; Action: string[]; Resource: unknown; Condition?: unknown };

interface StageSettings {
  /** Settings shared by every function (database, Kafka, logging); never a secret's value. */
  environment: Environment;
  /** Settings only the functions that publish to Kafka read (drainOutbox, deadLetter). */
  kafkaEnvironment: Environment;
  /**
   * dev/prod: the Secrets Manager secrets (names) of the database connection and the
   * Kafka SASL credentials; each function's role may read only those it uses.
   */
  secrets?: { database: string; databaseMigrations: string; kafka: string; kafkaKeyParameter?: string };
  /**
   * dev/prod: the api's reserved concurrency, its share of the RDS Proxy connection
   * budget (see the api function below). Unset: unreserved (local).
   */
  apiReservedConcurrency?: number;
  /** Settings only the api reads (JWT, CORS). */
  apiEnvironment: Environment;
  /** How often the schedule drains the outbox; the api's nudge covers the gap in between. */
  drainSchedule: { rate: string; enabled: boolean };
  /**
   * The rate limit: API Gateway throttles every route to this steady rate
   * (requests/s) and burst (bucket size) before a Lambda is invoked.
   */
  throttle: { rateLimit: number; burstLimit: number };
  /**
   * At most this many drains at once, and always this many available. One
   * drain keeps up (it sends whole batches per Kafka request); a second lets
   * a nudge run while a scheduled run is still going. More would only split
   * the same backlog (leases keep that safe) while each holds a Postgres
   * connection and a Kafka producer: load, not throughput. Nudges beyond the
   * limit are throttled and expire (maximumEventAge); the next run picks their
   * events up. Reserving also keeps a busy api from starving the drain.
   * (A new AWS account's concurrency quota of 10 leaves nothing to reserve:
   * request a quota increase before deploying there.)
   */
  drainReservedConcurrency: number;
  logRetentionInDays: 7 | 14 | 30 | 90 | 365;
  /** dev/prod: alarm thresholds (infra/monitoring.ts; what each means: README, Operating). */
  alarms?: AlarmThresholds;
  /**
   * X-Ray active tracing of every function, and our own segments on top
   * (XRAY_TRACING_ENABLED: the api's subsegment, the drain's publish segments;
   * lib/observability/xray.ts). Off on local: offline and LocalStack have no
   * X-Ray daemon, and with it off no X-Ray code is loaded.
   */
  tracing: boolean;
  /**
   * prod only: the functions run in private subnets to reach RDS Proxy. Those
   * subnets need a route to the brokers and to the Lambda API (a NAT gateway
   * or a "lambda" interface VPC endpoint) for the nudge and dead-letter invokes.
   */
  vpc?: { subnetIdsParameter: string; securityGroupIdsParameter: string };
}

/**
 * The local stage forwards every setting lib/config.ts reads (matched by name)
 * from the shell; unset ones take their documented defaults there.
 * LAMBDA_ENDPOINT: serverless offline serves the Lambda Invoke API itself;
 * empty means the SDK's own (AWS, or AWS_ENDPOINT_URL inside LocalStack).
 */
const LOCAL_SETTING =
  /^(DATABASE_URL|MIGRATION_DATABASE_URL|MIGRATION_DATABASE_SECRET_ARN|INBOX_RETENTION|DEAD_LETTER_RETENTION|RETENTION_\w+|DATABASE_SECRET_ARN|SECRETS_CACHE_TTL_SECONDS|DB_\w+|KAFKA_\w+|OUTBOX_\w+|JWT_\w+|OPERATOR_SCOPE|CORS_\w+|IDEMPOTENCY_\w+|PAYMENT_MIN_TIME_MS|MAX_REQUEST_BYTES|HEALTH_CHECK_\w+|LAMBDA_ENDPOINT|LAMBDA_DEADLINE_\w+|POWERTOOLS_LOG_LEVEL|POWERTOOLS_METRICS_\w+|XRAY_\w+)$/;

function fromShell(): Environment {
  return Object.fromEntries(
    Object.entries(process.env).flatMap(([name, value]) =>
      LOCAL_SETTING.test(name) && value ? [[name, value]] : [],
    ),
  );
}

function localDrainSchedule(value: string | undefined): StageSettings["drainSchedule"] {
  if (value === "off") return { rate: "rate(1 minute)", enabled: false };
  return { rate: value || "rate(1 minute)", enabled: true };
}

/** A value CloudFormation reads from SSM Parameter Store at deploy time. */
const ssm = (stage: Stage, name: string) => `{{resolve:ssm:/${SERVICE}/${stage}/${name}}}`;

type CloudSettings = Pick<StageSettings, "environment" | "kafkaEnvironment" | "apiEnvironment" | "secrets">;

function cloudSettings(stage: "dev" | "prod"): CloudSettings {
  const secrets = {
    // RDS's secret shape ({"username", "password", "host", "port", "dbname"}), so managed
    // rotation can keep it; prod: host is the RDS Proxy endpoint, so hundreds of Lambda
    // containers share a small pool of server connections. {"url": "postgres://…"} also works.
    database: `${SERVICE}/${stage}/database`,
    // migrate's own connection (MIGRATION_DATABASE_SECRET_ARN): the database instance itself, not
    // the proxy, as a role that owns the schema (docs/deploying.md).
    databaseMigrations: `${SERVICE}/${stage}/database-migrations`,
    // dev: Redpanda Cloud (SCRAM-SHA-256); prod: MSK with SASL/SCRAM, whose secrets must be
    // named AmazonMSK_*, hold {"username", "password"} and be encrypted with a customer managed
    // KMS key, which the readers must be allowed to decrypt with (named by an SSM parameter).
    kafka: kafkaSecret(stage),
    ...(stage === "prod" && { kafkaKeyParameter: `/${SERVICE}/prod/kafka-secret-kms-key-arn` }),
  };
  return {
    secrets,
    environment: {
      DATABASE_SECRET_ARN: secrets.database,
      OUTBOX_BATCH_SIZE: ssm(stage, "outbox-batch-size"),
      OUTBOX_MAX_ATTEMPTS: ssm(stage, "outbox-max-attempts"),
      POWERTOOLS_LOG_LEVEL: stage === "prod" ? "INFO" : "DEBUG",
    },
    kafkaEnvironment: {
      KAFKA_BROKERS: ssm(stage, "kafka-brokers"),
      KAFKA_SSL: "true",
      KAFKA_SASL_MECHANISM: stage === "prod" ? "scram-sha-512" : "scram-sha-256",
      KAFKA_SASL_SECRET_ARN: secrets.kafka,
    },
    apiEnvironment: {
      JWT_ISSUER: ssm(stage, "jwt-issuer"),
      JWT_AUDIENCE: ssm(stage, "jwt-audience"),
      JWT_JWKS_URL: ssm(stage, "jwt-jwks-url"),
      // e.g. cognito:groups; OPERATOR_SCOPE (default ledger:operator) names the operators' group.
      JWT_OPERATOR_CLAIM: ssm(stage, "jwt-operator-claim"),
      CORS_ALLOWED_ORIGINS: ssm(stage, "cors-allowed-origins"),
    },
  };
}

function kafkaSecret(stage: Stage): string {
  return stage === "prod" ? `AmazonMSK_${SERVICE}-${stage}` : `${SERVICE}/${stage}/kafka`;
}

const SETTINGS: Record<Stage, StageSettings> = {
  local: {
    environment: fromShell(),
    kafkaEnvironment: {},
    apiEnvironment: {},
    // DRAIN_SCHEDULE: a rate()/cron() expression, or "off" (tests that invoke the drain themselves).
    drainSchedule: localDrainSchedule(process.env.DRAIN_SCHEDULE),
    throttle: { rateLimit: 1000, burstLimit: 2000 },
    drainReservedConcurrency: 2,
    logRetentionInDays: 7,
    tracing: false,
  },
  dev: {
    ...cloudSettings("dev"),
    drainSchedule: { rate: "rate(1 minute)", enabled: true },
    throttle: { rateLimit: 50, burstLimit: 100 },
    drainReservedConcurrency: 2,
    apiReservedConcurrency: 10,
    logRetentionInDays: 14,
    alarms: { outboxLagMs: 120_000, apiServerErrors: 10, drainFailures: 2 },
    tracing: true,
  },
  prod: {
    ...cloudSettings("prod"),
    drainSchedule: { rate: "rate(1 minute)", enabled: true },
    throttle: { rateLimit: 500, burstLimit: 1000 },
    drainReservedConcurrency: 4,
    apiReservedConcurrency: 100,
    logRetentionInDays: 90,
    alarms: { outboxLagMs: 60_000, apiServerErrors: 5, drainFailures: 1 },
    tracing: true,
    vpc: {
      subnetIdsParameter: `/${SERVICE}/prod/private-subnet-ids`,
      securityGroupIdsParameter: `/${SERVICE}/prod/lambda-security-group-ids`,
    },
  },
};

function stageFromArgv(argv: string[]): Stage {
  let stage = "local";
  argv.forEach((arg, i) => {
    if (arg === "--stage" || arg === "-s") stage = argv[i + 1] ?? stage;
    else if (arg.startsWith("--stage=")) stage = arg.slice("--stage=".length);
  });
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new Error(`unknown stage "${stage}": use one of ${STAGES.join(", ")}`);
  }
  return stage as Stage;
}

const stage = stageFromArgv(process.argv);
const settings = SETTINGS[stage];
/**
 * local stage only, set by localstack/deploy.sh: the api is served through a Lambda function URL
 * instead of the HTTP API. Community LocalStack has no API Gateway v2, but serves function URLs
 * with the same payload 2.0 event, so the function behaves the same behind either. serverless
 * offline and every AWS stage keep the HTTP API.
 */
const apiFunctionUrl = stage === "local" && process.env.API_FUNCTION_URL === "true";
const functionName = (key: string) => `${SERVICE}-${stage}-${key}`;
const functionArn = (key: string) => ({
  "Fn::Sub": `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${functionName(key)}`,
});

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

/**
 * One role per function, so each holds only what it uses: its own log stream,
 * plus the statements given here. Only api may invoke drainOutbox and only
 * drainOutbox may invoke deadLetter; nothing else can invoke anything.
 */
function role(key: string, statements: Statement[] = []) {
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
      ManagedPolicyArns: settings.vpc
        ? [
            {
              "Fn::Sub": `arn:\${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`,
            },
          ]
        : [],
      Policies: [
        {
          PolicyName: `${functionName(key)}-policy`,
          PolicyDocument: {
            Version: "2012-10-17",
            Statement: [
              {
                // The framework creates the log group; the function only writes to it.
                Effect: "Allow",
                Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                Resource: {
                  "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName(key)}:*`,
                },
              },
              ...(settings.tracing ? [XRAY_WRITE] : []),
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
const KAFKA_SECRET_KEY = "KafkaSecretKeyArn";

/** Read access to exactly the secrets a function uses (none on the local stage). */
function readSecrets(...uses: ("database" | "databaseMigrations" | "kafka")[]): Statement[] {
  const secrets = settings.secrets;
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

const kafkaKeyParameter = settings.secrets?.kafkaKeyParameter
  ? {
      [KAFKA_SECRET_KEY]: {
        Type: "AWS::SSM::Parameter::Value<String>",
        Default: settings.secrets.kafkaKeyParameter,
      },
    }
  : {};

const vpcParameters = settings.vpc
  ? {
      PrivateSubnetIds: {
        Type: "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>",
        Default: settings.vpc.subnetIdsParameter,
      },
      LambdaSecurityGroupIds: {
        Type: "AWS::SSM::Parameter::Value<List<AWS::EC2::SecurityGroup::Id>>",
        Default: settings.vpc.securityGroupIdsParameter,
      },
    }
  : {};

// The schema only accepts a list or Fn::Split here, so join the parameter's list and split it again.
const listParameter = (name: string) => ({ "Fn::Split": [",", { "Fn::Join": [",", { Ref: name }] }] });

const DEAD_LETTER_FAILURES = "DeadLetterFailuresQueue";

/**
 * dev/prod: one customer managed key per stage for the data at rest that
 * carries payment details: the log groups and the dead-letter failures queue.
 * Revoking or auditing access to them is then a key policy, not a hunt through
 * IAM. (LocalStack and offline have no use for it.)
 */
const DATA_KEY = "DataKey";
const dataKey = settings.secrets !== undefined;
const dataKeyArn = { "Fn::GetAtt": [DATA_KEY, "Arn"] };
const LOG_GROUPS = [
  "ApiLogGroup",
  "DrainOutboxLogGroup",
  "DeadLetterLogGroup",
  "MigrateLogGroup",
  "MaintenanceLogGroup",
  "HttpApiLogGroup",
];

/** checkov reads suppressions from a resource's Metadata; each one carries its reason. */
const checkovSkip = (checks: Record<string, string>) => ({
  checkov: { skip: Object.entries(checks).map(([id, comment]) => ({ id, comment })) },
});

const ENV_NOT_SECRET =
  "The environment holds no secret: secrets are read from Secrets Manager at run time (a test asserts it on the packaged templates). " +
  "Lambda already encrypts it at rest with an AWS managed key; a customer managed key would add a KMS call to every cold start and a way to break every function while protecting nothing secret.";
const NO_VPC_IN_DEV =
  "dev reaches its managed Postgres and Redpanda Cloud over TLS on public endpoints; a VPC (and the NAT gateway the nudge and dead-letter invokes would then need) adds cost and no isolation there. prod runs in private subnets.";

function functionFindings(extra: Record<string, string>): Record<string, string> {
  return {
    CKV_AWS_173: ENV_NOT_SECRET,
    ...(stage === "dev" && { CKV_AWS_117: NO_VPC_IN_DEV }),
    ...extra,
  };
}

/** Accepted checkov findings per function, with the reason each one does not apply. */
const FUNCTION_FINDINGS: Record<string, Record<string, string>> = {
  ApiLambdaFunction: functionFindings({
    CKV_AWS_116:
      "Invoked synchronously by the HTTP API: every failure returns to the caller as a gRPC status. A DLQ only receives failed asynchronous invocations, which the api never gets.",
  }),
  DrainOutboxLambdaFunction: functionFindings({
    CKV_AWS_116:
      "Its events (schedule ticks, nudges) carry no payload: the work lives in the outbox table, and the next run picks up whatever a failed run left. Retries are off on purpose; a DLQ would only collect empty events.",
  }),
  DeadLetterLambdaFunction: functionFindings({
    CKV_AWS_116:
      "Failed asynchronous invocations go to an on-failure destination, the SQS queue DeadLetterFailuresQueue (alarmed), which also keeps the error; checkov only recognises the older DeadLetterConfig.",
  }),
  MaintenanceLambdaFunction: functionFindings({
    CKV_AWS_116:
      "Its hourly schedule events carry no payload: the work is the tables' state, and the next run deletes whatever a failed run left. Retries are off on purpose; a DLQ would only collect empty events.",
  }),
  MigrateLambdaFunction: functionFindings({
    CKV_AWS_116:
      "Invoked synchronously by the deploy script, which fails the deploy when it fails; retries are off, so no asynchronous failure exists to keep.",
  }),
};

const serverlessConfiguration: AWS = {
  service: SERVICE,
  frameworkVersion: "4",
  configValidationMode: "error",
  plugins: ["serverless-esbuild", "serverless-offline"],
  provider: {
    name: "aws",
    stage,
    region: "us-east-1",
    // Node 24 is the newest Lambda runtime. arm64 (Graviton) costs ~20% less per GB-s and runs this
    // pure-JavaScript code as fast; nothing native ships (pg-native is left out of every bundle).
    runtime: "nodejs24.x",
    architecture: "arm64",
    memorySize: 512,
    logRetentionInDays: settings.logRetentionInDays,
    // Block every form of public access and keep earlier versions of the deployment artifacts
    // (the bucket's lifecycle rule below expires them).
    deploymentBucket: { blockPublicAccess: true, versioning: true },
    logs: {
      // JSON access logs of the HTTP API (retention as above): the audit trail of every call.
      httpApi: {
        format: JSON.stringify({
          requestId: "$context.requestId",
          requestTime: "$context.requestTime",
          ip: "$context.identity.sourceIp",
          userAgent: "$context.identity.userAgent",
          routeKey: "$context.routeKey",
          protocol: "$context.protocol",
          status: "$context.status",
          responseLength: "$context.responseLength",
          responseLatencyMs: "$context.responseLatency",
          integrationLatencyMs: "$context.integration.latency",
          integrationStatus: "$context.integration.status",
          integrationRequestId: "$context.integration.requestId",
          integrationError: "$context.integration.error",
          integrationErrorMessage: "$context.integrationErrorMessage",
          error: "$context.error.message",
        }),
      },
    },
    // Nothing points at versions (no aliases, no provisioned concurrency); each deploy would pile one up.
    versionFunctions: false,
    ...(settings.vpc && {
      vpc: {
        subnetIds: listParameter("PrivateSubnetIds"),
        securityGroupIds: listParameter("LambdaSecurityGroupIds"),
      },
    }),
    ...(!apiFunctionUrl && { httpApi: { payload: "2.0", metrics: true } }),
    // TracingConfig Mode Active on every function. (HTTP APIs have no X-Ray tracing of their own:
    // a call's trace starts at the api function.)
    ...(settings.tracing && { tracing: { lambda: true } }),
    environment: {
      ...settings.environment,
      ...(settings.tracing && { XRAY_TRACING_ENABLED: "true" }),
      // No --enable-source-maps: it indexes the maps at every cold start. Each function's entry
      // point imports lib/observability/source-mapped-stacks.ts, which maps a stack when one is printed.
      POWERTOOLS_SERVICE_NAME: SERVICE,
    },
  },
  package: { individually: true },
  functions: {
    api: {
      handler: "functions/api/handler.handler",
      role: "ApiRole",
      // Its share of RDS Proxy's connection budget. A container serves one request at a time, one
      // transaction after another, so it borrows at most one server connection through the proxy:
      // 100 (prod) busy api containers plus drainOutbox, deadLetter and maintenance need at most
      // 111 of the proxy's connections (the arithmetic: docs/deploying.md); size its
      // MaxConnectionsPercent to leave that. 100 is 5x the concurrency of the prod throttle
      // (500 req/s at ~40 ms); beyond it, callers get throttled, not a database out of
      // connections. Reserving also keeps other functions from starving the api.
      ...(settings.apiReservedConcurrency && { reservedConcurrency: settings.apiReservedConcurrency }),
      // A cold start parses protobuf descriptors and JSON schemas: CPU scales with memory.
      memorySize: 1024,
      // Worst case is a database connect (3 s) plus a statement (5 s); the HTTP API gives up at 30 s.
      // Timing out here first turns a stuck request into a clean gRPC error.
      timeout: 10,
      environment: {
        ...settings.apiEnvironment,
        DRAIN_OUTBOX_FUNCTION_NAME: functionName("drainOutbox"),
      },
      // No CORS settings on the URL: the function answers preflights itself (middy cors), as behind the HTTP API.
      ...(apiFunctionUrl && { url: true }),
      events: apiFunctionUrl
        ? []
        : [
            { httpApi: { method: "POST", path: "/{proxy+}" } },
            // gRPC-web from browsers sends a CORS preflight; the function answers it (middy cors).
            { httpApi: { method: "OPTIONS", path: "/{proxy+}" } },
          ],
    },
    drainOutbox: {
      handler: "functions/drain-outbox/handler.handler",
      role: "DrainOutboxRole",
      // Below the schedule's interval, so a scheduled run ends before the next one starts. A run
      // stops claiming when OUTBOX_TIME_MARGIN_MS (10 s) remains: time to finish the batch in hand.
      timeout: 50,
      reservedConcurrency: settings.drainReservedConcurrency,
      // A failed or throttled run is never retried: the next schedule or nudge picks up the same
      // events, and their attempt counts live in the outbox table, not in Lambda's queue.
      maximumRetryAttempts: 0,
      maximumEventAge: 60,
      environment: { ...settings.kafkaEnvironment, DEAD_LETTER_FUNCTION_NAME: functionName("deadLetter") },
      events: [
        { schedule: { rate: [settings.drainSchedule.rate], enabled: settings.drainSchedule.enabled } },
      ],
    },
    deadLetter: {
      handler: "functions/dead-letter/handler.handler",
      role: "DeadLetterRole",
      timeout: 30,
      // Only drainOutbox invokes it, asynchronously. Recording is idempotent by event id, so
      // Lambda's retries are safe; what still fails lands in an SQS queue with an alarm on it
      // (the event is already in dead_letters by then: `npm run redrive` republishes it).
      // Two at a time: a burst of poison events must not open a connection pair per event.
      reservedConcurrency: 2,
      environment: settings.kafkaEnvironment,
      maximumRetryAttempts: 2,
      maximumEventAge: 21_600,
      destinations: { onFailure: { type: "sqs", arn: { "Fn::GetAtt": [DEAD_LETTER_FAILURES, "Arn"] } } },
    },
    maintenance: {
      handler: "functions/maintenance/handler.handler",
      role: "MaintenanceRole",
      // Bounded batches (RETENTION_BATCH_SIZE x RETENTION_MAX_BATCHES per table); what is left
      // goes on the next run. One at a time: runs never compete for the same rows.
      timeout: 300,
      reservedConcurrency: 1,
      maximumRetryAttempts: 0,
      events: [{ schedule: { rate: ["rate(1 hour)"], enabled: true } }],
    },
    migrate: {
      handler: "functions/migrate/handler.handler",
      role: "MigrateRole",
      // DDL on a large table can take minutes; the deploy script waits for it.
      timeout: 300,
      reservedConcurrency: 1,
      maximumRetryAttempts: 0,
      environment: {
        MIGRATIONS_DIR: "lib/db/migrations",
        SQL_FUNCTIONS_DIR: "lib/ledger/sql",
        // Where it connects; DATABASE_SECRET_ARN still names the functions' role, whose defaults it sets.
        ...(settings.secrets && { MIGRATION_DATABASE_SECRET_ARN: settings.secrets.databaseMigrations }),
      },
      // Migrations and the ledger's function files are read at run time: ship them beside the bundle.
      package: { patterns: ["lib/db/migrations/*.sql", "lib/ledger/sql/*.sql"] },
    },
  },
  resources: {
    Parameters: { ...vpcParameters, ...kafkaKeyParameter },
    Resources: {
      ApiRole: role("api", [
        { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [functionArn("drainOutbox")] },
        ...readSecrets("database"),
      ]),
      DrainOutboxRole: role("drainOutbox", [
        { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [functionArn("deadLetter")] },
        ...readSecrets("database", "kafka"),
      ]),
      DeadLetterRole: role("deadLetter", [
        {
          Effect: "Allow",
          Action: ["sqs:SendMessage"],
          Resource: [{ "Fn::GetAtt": [DEAD_LETTER_FAILURES, "Arn"] }],
        },
        // Sending to a queue encrypted with the data key needs the key.
        ...(dataKey
          ? [
              {
                Effect: "Allow" as const,
                Action: ["kms:GenerateDataKey", "kms:Decrypt"],
                Resource: [dataKeyArn],
              },
            ]
          : []),
        ...readSecrets("database", "kafka"),
      ]),
      MaintenanceRole: role("maintenance", readSecrets("database")),
      MigrateRole: role("migrate", readSecrets("database", "databaseMigrations")),
      [DEAD_LETTER_FAILURES]: {
        Type: "AWS::SQS::Queue",
        Properties: {
          QueueName: `${SERVICE}-${stage}-dead-letter-failures`,
          MessageRetentionPeriod: 1_209_600,
          // dev/prod: the data key; local: SQS-managed encryption (LocalStack has no use for a key).
          ...(dataKey ? { KmsMasterKeyId: dataKeyArn } : { SqsManagedSseEnabled: true }),
        },
      },
      ...(dataKey && {
        [DATA_KEY]: {
          Type: "AWS::KMS::Key",
          Properties: {
            Description: `${SERVICE}-${stage}: its log groups and dead-letter failures queue`,
            EnableKeyRotation: true,
            KeyPolicy: {
              Version: "2012-10-17",
              Statement: [
                {
                  // The account administers the key, so IAM policies (the roles above) can grant its use.
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
                          "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${SERVICE}-${stage}-*`,
                        },
                        {
                          "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/http-api/${SERVICE}-${stage}`,
                        },
                      ],
                    },
                  },
                },
              ],
            },
          },
        },
      }),
      DeadLetterFailuresAlarm: {
        Type: "AWS::CloudWatch::Alarm",
        Properties: {
          AlarmName: `${SERVICE}-${stage}-dead-letter-failures`,
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
          ...(settings.alarms && { AlarmActions: [{ Ref: ALARM_TOPIC }], OKActions: [{ Ref: ALARM_TOPIC }] }),
        },
      },
      ...(settings.alarms &&
        monitoringResources({
          service: SERVICE,
          stage,
          namespace: "PaymentLedger",
          thresholds: settings.alarms,
          dataKeyArn,
        })),
    },
    extensions: {
      ServerlessDeploymentBucket: {
        Properties: {
          LifecycleConfiguration: {
            Rules: [
              {
                Id: "expire-replaced-artifacts",
                Status: "Enabled",
                NoncurrentVersionExpiration: { NoncurrentDays: 30 },
                AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
              },
            ],
          },
        },
        Metadata: checkovSkip({
          CKV_AWS_18:
            "Holds only the framework's deployment artifacts (bundles, templates), written by the deployer and read by CloudFormation; public access is blocked and TLS is required. " +
            "Who deployed what is recorded by CloudTrail; server access logs would need a second bucket that would itself fail this check.",
        }),
      },
      ...Object.fromEntries(
        Object.entries(FUNCTION_FINDINGS).map(([id, findings]) => [id, { Metadata: checkovSkip(findings) }]),
      ),
      ...(dataKey &&
        Object.fromEntries(LOG_GROUPS.map((id) => [id, { Properties: { KmsKeyId: dataKeyArn } }]))),
      // With a function URL (the api in LocalStack) there is no HTTP API stage to extend.
      ...(apiFunctionUrl
        ? {}
        : {
            HttpApiStage: {
              Properties: {
                DefaultRouteSettings: {
                  DetailedMetricsEnabled: true,
                  ThrottlingRateLimit: settings.throttle.rateLimit,
                  ThrottlingBurstLimit: settings.throttle.burstLimit,
                },
              },
            },
          }),
    },
  },
  custom: {
    esbuild: {
      bundle: true,
      minify: true,
      sourcemap: "linked",
      // Stack traces need names and lines, not the sources themselves.
      sourcesContent: false,
      // What a handler loads with import() only when a setting asks for it (the X-Ray SDKs) goes into
      // chunks of its own, so a cold start without it neither reads nor parses that code.
      // Named after the bundle ("handler.*") so each function's zip takes only its own chunks
      // (serverless-esbuild leaves files derived from another function's bundle out of a zip).
      splitting: true,
      chunkNames: "handler.[name]-[hash]",
      target: "node24",
      platform: "node",
      format: "esm",
      outputFileExtension: ".mjs",
      mainFields: ["module", "main"],
      // Bundled CommonJS dependencies (pg, kafkajs) call require() for Node builtins.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      // The runtime ships AWS SDK v3 (only client-lambda's InvokeCommand is used: a stable API).
      // pg-native is pg's optional native binding; never used, never installed.
      exclude: ["@aws-sdk/*", "pg-native"],
      // Two builds at once (tests, a running `npm run dev`) each need their own work folder.
      outputWorkFolder: process.env.ESBUILD_WORK_FOLDER || ".esbuild",
    },
  },
};

export default serverlessConfiguration;
