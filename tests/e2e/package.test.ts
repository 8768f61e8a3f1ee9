/**
 * `serverless package` as a deploy would run it, without AWS credentials:
 * the CloudFormation template has the shape the README promises, the bundles
 * are small, and the migrate bundle migrates a database on its own.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS_TABLE } from "../../lib/db/migrate.ts";
import { PROJECT_ROOT } from "../../tools/local-services/offline.ts";
import {
  type CfnResource,
  type CfnTemplate,
  extractZip,
  FUNCTION_KEYS,
  handlerFile,
  lambdaResource,
  type PackagedService,
  packageService,
  zipEntrySizes,
} from "../../tools/local-services/serverless-package.ts";
import { testDatabase } from "../support/database.ts";

const execFileAsync = promisify(execFile);
const API_BUNDLE_LIMIT_BYTES = 1024 * 1024;

let work: string;
let local: PackagedService;
let dev: PackagedService;
let prod: PackagedService;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "ledger-package-"));
  // One after the other: each build uses both cores.
  local = await packageService("local", join(work, "local"), { DRAIN_SCHEDULE: "" });
  dev = await packageService("dev", join(work, "dev"));
  prod = await packageService("prod", join(work, "prod"));
}, 450_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every IAM statement of every role, by role logical id. */
function roleStatements(template: CfnTemplate): [string, Statement][] {
  return resourcesOfType(template, "AWS::IAM::Role").flatMap(([id, role]) =>
    (
      (role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? []
    ).flatMap((policy) => policy.PolicyDocument.Statement.map((s): [string, Statement] => [id, s])),
  );
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const env = (template: CfnTemplate, fn: (typeof FUNCTION_KEYS)[number]) =>
  (lambdaResource(template, fn).Properties.Environment as { Variables: Record<string, string> }).Variables;

describe("serverless package --stage local", () => {
  it("has the five functions on Node 24 / arm64, each with its own role", () => {
    for (const fn of FUNCTION_KEYS) {
      const props = lambdaResource(local.template, fn).Properties;
      expect(props).toMatchObject({
        FunctionName: `payment-ledger-local-${fn}`,
        Runtime: "nodejs24.x",
        Architectures: ["arm64"],
      });
      expect(props.Role).toEqual({
        "Fn::GetAtt": [`${fn.charAt(0).toUpperCase()}${fn.slice(1)}Role`, "Arn"],
      });
    }
    expect(resourcesOfType(local.template, "AWS::Lambda::Function")).toHaveLength(5);
    // No shared default role that every function would get.
    expect(local.template.Resources.IamRoleLambdaExecution).toBeUndefined();
  });

  it("schedules the drain and the maintenance and routes POST and OPTIONS /{proxy+} to the api, throttled", () => {
    const rules = resourcesOfType(local.template, "AWS::Events::Rule").map(([, r]) => r.Properties);
    expect(rules).toHaveLength(2);
    expect(rules).toContainEqual(
      expect.objectContaining({
        ScheduleExpression: "rate(1 minute)",
        State: "ENABLED",
        Targets: [expect.objectContaining({ Arn: { "Fn::GetAtt": ["DrainOutboxLambdaFunction", "Arn"] } })],
      }),
    );
    // Maintenance every minute: each run deletes about a minute's worth, bounded by its time.
    expect(rules).toContainEqual(
      expect.objectContaining({
        ScheduleExpression: "rate(1 minute)",
        State: "ENABLED",
        Targets: [expect.objectContaining({ Arn: { "Fn::GetAtt": ["MaintenanceLambdaFunction", "Arn"] } })],
      }),
    );
    // A run ends (its time budget is the timeout) before the next one is due.
    expect(lambdaResource(local.template, "maintenance").Properties.Timeout).toBeLessThan(60);

    const routes = resourcesOfType(local.template, "AWS::ApiGatewayV2::Route").map(
      ([, r]) => r.Properties.RouteKey,
    );
    expect(routes.sort()).toEqual(["OPTIONS /{proxy+}", "POST /{proxy+}"]);
    const stage = local.template.Resources.HttpApiStage?.Properties.DefaultRouteSettings;
    expect(stage).toMatchObject({
      ThrottlingRateLimit: expect.any(Number),
      ThrottlingBurstLimit: expect.any(Number),
    });
  });

  it("grants lambda:InvokeFunction only api -> drainOutbox and drainOutbox -> deadLetter, never on *", () => {
    const statements = roleStatements(local.template);
    for (const [, s] of statements) expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"|^"\*"$/);

    const invokes = statements
      .filter(([, s]) =>
        actions(s).some((a) => a === "lambda:InvokeFunction" || a === "lambda:*" || a === "*"),
      )
      .map(([role, s]) => [role, s.Resource]);
    const arn = (fn: string) => ({
      "Fn::Sub": `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:payment-ledger-local-${fn}`,
    });
    expect(invokes).toEqual([
      ["ApiRole", [arn("drainOutbox")]],
      ["DrainOutboxRole", [arn("deadLetter")]],
    ]);
    // The names the functions invoke are the ones the roles allow.
    expect(env(local.template, "api").DRAIN_OUTBOX_FUNCTION_NAME).toBe("payment-ledger-local-drainOutbox");
    expect(env(local.template, "drainOutbox").DEAD_LETTER_FUNCTION_NAME).toBe(
      "payment-ledger-local-deadLetter",
    );
  });

  it("gives deadLetter its own retries and an SQS on-failure destination it may write to", () => {
    const config = local.template.Resources.DeadLetterLambdaEvConf?.Properties;
    expect(config).toMatchObject({
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": ["DeadLetterFailuresQueue", "Arn"] } } },
    });
    expect(local.template.Resources.DeadLetterFailuresQueue?.Type).toBe("AWS::SQS::Queue");
    expect(local.template.Resources.DeadLetterFailuresAlarm?.Type).toBe("AWS::CloudWatch::Alarm");
    const sends = roleStatements(local.template).filter(([, s]) => actions(s).includes("sqs:SendMessage"));
    expect(sends.map(([role]) => role)).toEqual(["DeadLetterRole"]);
    // deadLetter is async-only: no event source of any kind targets it.
    expect(JSON.stringify(resourcesOfType(local.template, "AWS::Events::Rule"))).not.toContain("DeadLetter");
    expect(
      lambdaResource(local.template, "drainOutbox").Properties.ReservedConcurrentExecutions,
    ).toBeGreaterThan(0);
  });

  it("bundles each function small, minified, with a source map; the api under 1 MB", async () => {
    const rows: string[] = [];
    for (const fn of FUNCTION_KEYS) {
      const { file } = handlerFile(lambdaResource(local.template, fn));
      const sizes = await zipEntrySizes(local.zipPath(fn));
      const bundle = sizes.get(file) ?? 0;
      expect(bundle, `${fn}: ${file} in the zip`).toBeGreaterThan(0);
      expect(sizes.has(`${file}.map`), `${fn}: source map`).toBe(true);
      // Nothing but the bundle (and, for migrate, its SQL): dependencies are inside it, the SDK is the runtime's.
      expect([...sizes.keys()].filter((name) => name.includes("node_modules"))).toEqual([]);
      const zipBytes = (await stat(local.zipPath(fn))).size;
      rows.push(
        `${fn.padEnd(12)} bundle ${(bundle / 1024).toFixed(0).padStart(5)} KiB   zip ${(zipBytes / 1024).toFixed(0).padStart(5)} KiB`,
      );
      if (fn === "api") expect(bundle).toBeLessThan(API_BUNDLE_LIMIT_BYTES);
    }
    console.log(`bundle sizes (stage local):\n  ${rows.join("\n  ")}`);
  });

  it("bundles the api's protobuf descriptors decoded, so a cold start never boots descriptor.proto", async () => {
    const { file } = handlerFile(lambdaResource(local.template, "api"));
    const dir = join(work, "api-descriptors");
    await extractZip(local.zipPath("api"), dir);
    const code = await readFile(join(dir, file), "utf8");
    // The snapshot (infra/esbuild-descriptor-snapshots.ts) carries the names; the base64 form is gone.
    expect(code).toContain('"AuthorizePaymentRequest"');
    const embedded = /fileDesc\(\s*"([A-Za-z0-9+/=]+)"/.exec(
      await readFile(join(PROJECT_ROOT, "lib/gen/payment/v1/payment_pb.ts"), "utf8"),
    )?.[1];
    expect(embedded?.length).toBeGreaterThan(100);
    expect(code).not.toContain(embedded?.slice(0, 64));
    expect(code).not.toContain("google/protobuf/descriptor.proto");
  });

  it("ships the SQL in the migrate bundle, and that bundle migrates an empty database by itself", async () => {
    const dir = join(work, "migrate-task");
    const files = await extractZip(local.zipPath("migrate"), dir);
    const sql = (await readdir(join(PROJECT_ROOT, "lib/db/migrations")))
      .filter((f) => f.endsWith(".sql"))
      .sort();
    const functionFiles = (await readdir(join(PROJECT_ROOT, "lib/ledger/sql")))
      .filter((f) => f.endsWith(".sql"))
      .sort();
    expect(files.filter((f) => f.endsWith(".sql")).sort()).toEqual(
      [
        ...sql.map((f) => `lib/db/migrations/${f}`),
        ...functionFiles.map((f) => `lib/ledger/sql/${f}`),
      ].sort(),
    );

    // Empty: the bundle's migrate is what migrates it (directly, as the deploy runs it).
    const empty = await testDatabase("pkg", { migrate: false });
    const databaseUrl = empty.directUrl;
    try {
      const { file, exportName } = handlerFile(lambdaResource(local.template, "migrate"));
      // As Lambda runs it: the package root is the working directory, settings from the template.
      const script = `const m = await import("./${file}"); console.log(JSON.stringify(await m.${exportName}({}, {})));`;
      const { stdout } = await execFileAsync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "", ...env(local.template, "migrate"), DATABASE_URL: databaseUrl },
      });
      const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
        applied: string[];
        functions: string[];
      };
      expect(result.applied).toEqual(sql.map((f) => f.replace(/\.sql$/, "")));
      expect(result.functions).toEqual(functionFiles);

      const check = new pg.Client({ connectionString: databaseUrl });
      await check.connect();
      try {
        const { rows } = await check.query<{ name: string }>(
          `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`,
        );
        expect(rows.map((r) => r.name)).toEqual(result.applied);
        const tables = await check.query(
          "SELECT 1 FROM information_schema.tables WHERE table_name = 'outbox'",
        );
        expect(tables.rowCount).toBe(1);
        // This release's signature (owner, time budget, traceparent, deadline instant), plus the
        // previous release's shim.
        const fn = await check.query<{ args: number }>(
          "SELECT pronargs AS args FROM pg_proc WHERE proname = 'authorize_payment' ORDER BY pronargs",
        );
        expect(fn.rows.map((r) => r.args)).toEqual([12, 16]);
      } finally {
        await check.end();
      }
    } finally {
      await empty.drop();
    }
  });
});

const SECRET_NAMES = {
  dev: {
    database: "payment-ledger/dev/database",
    databaseMigrations: "payment-ledger/dev/database-migrations",
    kafka: "payment-ledger/dev/kafka",
    pageToken: "payment-ledger/dev/page-token",
  },
  prod: {
    database: "payment-ledger/prod/database",
    databaseMigrations: "payment-ledger/prod/database-migrations",
    kafka: "AmazonMSK_payment-ledger-prod",
    pageToken: "payment-ledger/prod/page-token",
  },
} as const;
const ROLE_OF: Record<(typeof FUNCTION_KEYS)[number], string> = {
  api: "ApiRole",
  drainOutbox: "DrainOutboxRole",
  deadLetter: "DeadLetterRole",
  maintenance: "MaintenanceRole",
  migrate: "MigrateRole",
};
// Which secrets each function reads: Kafka credentials only where something publishes, the page
// token key only where pages are listed; migrate's own connection (the database itself, not the
// proxy) only for migrate, which also reads the functions' secret for the role whose defaults it sets.
const SECRETS_OF: Record<
  (typeof FUNCTION_KEYS)[number],
  ("database" | "databaseMigrations" | "kafka" | "pageToken")[]
> = {
  api: ["database", "pageToken"],
  drainOutbox: ["database", "kafka"],
  deadLetter: ["database", "kafka"],
  maintenance: ["database"],
  migrate: ["database", "databaseMigrations"],
};

describe.each([
  ["dev", () => dev],
  ["prod", () => prod],
] as const)("serverless package --stage %s: secrets", (stage, packaged) => {
  const names = SECRET_NAMES[stage];
  const secretArn = (name: string) => ({
    "Fn::Sub": `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${name}-??????`,
  });

  it("keeps every secret value and secret reference out of every function's configuration", () => {
    const template = packaged().template;
    const json = JSON.stringify(template);
    expect(json).not.toContain("{{resolve:secretsmanager");
    for (const fn of FUNCTION_KEYS) {
      const variables = env(template, fn);
      // Names of secrets only; no variable that would carry a credential.
      for (const name of [
        "DATABASE_URL",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "JWT_SECRET",
        "PAGE_TOKEN_SECRET",
      ]) {
        expect(variables[name], `${fn}: ${name}`).toBeUndefined();
      }
      for (const [name, value] of Object.entries(variables)) {
        expect(value, `${fn}: ${name}`).not.toMatch(/^postgres(ql)?:\/\/|password/i);
      }
      expect(variables.DATABASE_SECRET_ARN, fn).toBe(names.database);
      expect(variables.KAFKA_SASL_SECRET_ARN, fn).toBe(
        SECRETS_OF[fn].includes("kafka") ? names.kafka : undefined,
      );
      expect(variables.PAGE_TOKEN_SECRET_ARN, fn).toBe(
        SECRETS_OF[fn].includes("pageToken") ? names.pageToken : undefined,
      );
      expect(variables.MIGRATION_DATABASE_SECRET_ARN, fn).toBe(
        SECRETS_OF[fn].includes("databaseMigrations") ? names.databaseMigrations : undefined,
      );
    }
    // Non-secret settings still come from SSM at deploy time.
    expect(env(template, "drainOutbox").KAFKA_BROKERS).toBe(
      `{{resolve:ssm:/payment-ledger/${stage}/kafka-brokers}}`,
    );
    expect(env(template, "api").JWT_JWKS_URL).toBe(`{{resolve:ssm:/payment-ledger/${stage}/jwt-jwks-url}}`);
  });

  it("lets each function read exactly its own secrets, and nothing else read any", () => {
    const statements = roleStatements(packaged().template);
    const reads = statements.filter(([, s]) =>
      actions(s).some((a) => a.startsWith("secretsmanager:") || a === "*"),
    );
    for (const [role, s] of reads) expect(actions(s), role).toEqual(["secretsmanager:GetSecretValue"]);
    expect(Object.fromEntries(reads.map(([role, s]) => [role, s.Resource]))).toEqual(
      Object.fromEntries(
        FUNCTION_KEYS.map((fn) => [ROLE_OF[fn], SECRETS_OF[fn].map((use) => secretArn(names[use]))]),
      ),
    );
    expect(reads).toHaveLength(FUNCTION_KEYS.length);
  });

  it("gives every checkov suppression a written reason", () => {
    const skips = Object.entries(packaged().template.Resources).flatMap(([id, resource]) =>
      (
        ((resource as { Metadata?: { checkov?: { skip?: { id: string; comment?: string }[] } } }).Metadata
          ?.checkov?.skip ?? []) as { id: string; comment?: string }[]
      ).map((skip) => ({ resource: id, ...skip })),
    );
    expect(skips.length).toBeGreaterThan(0);
    for (const skip of skips) {
      expect(skip.id, skip.resource).toMatch(/^CKV_AWS_\d+$/);
      expect(skip.comment?.length ?? 0, `${skip.resource} ${skip.id}`).toBeGreaterThan(40);
    }
  });
});

describe("serverless package --stage prod (no AWS access)", () => {
  it("leaves non-secret settings to CloudFormation dynamic references, resolved only at deploy", () => {
    const variables = env(prod.template, "drainOutbox");
    expect(variables.KAFKA_BROKERS).toBe("{{resolve:ssm:/payment-ledger/prod/kafka-brokers}}");
    expect(variables.KAFKA_SSL).toBe("true");
    expect(variables.KAFKA_SASL_MECHANISM).toBe("scram-sha-512");
    // The shell this ran in leaks nothing into a cloud stage.
    expect(env(prod.template, "api").JWT_SECRET).toBeUndefined();
  });

  it("lets the Kafka readers decrypt with the MSK secret's key, only through Secrets Manager", () => {
    const decrypts = roleStatements(prod.template).filter(
      ([, s]) =>
        actions(s).includes("kms:Decrypt") && JSON.stringify(s.Resource).includes("KafkaSecretKeyArn"),
    );
    expect(decrypts.map(([role]) => role).sort()).toEqual(["DeadLetterRole", "DrainOutboxRole"]);
    for (const [, s] of decrypts) expect(JSON.stringify(s)).toContain("kms:ViaService");
  });

  it("puts the functions in the VPC named by SSM parameters (RDS Proxy is VPC-only)", () => {
    expect(Object.keys(prod.template.Parameters ?? {}).sort()).toEqual([
      "KafkaSecretKeyArn",
      "LambdaSecurityGroupIds",
      "PrivateSubnetIds",
    ]);
    for (const fn of FUNCTION_KEYS) {
      expect(lambdaResource(prod.template, fn).Properties.VpcConfig, fn).toBeDefined();
    }
  });
});

describe("X-Ray tracing", () => {
  const xrayStatements = (template: CfnTemplate) =>
    roleStatements(template).filter(([, s]) => actions(s).some((a) => a.startsWith("xray:")));

  it.each(["dev", "prod"] as const)(
    "%s: every function traced actively, with our segments on and each role allowed to send them",
    (name) => {
      const template = (name === "dev" ? dev : prod).template;
      for (const fn of FUNCTION_KEYS) {
        expect(lambdaResource(template, fn).Properties.TracingConfig, fn).toEqual({ Mode: "Active" });
        expect(env(template, fn).XRAY_TRACING_ENABLED, fn).toBe("true");
      }
      const statements = xrayStatements(template);
      expect(statements.map(([role]) => role).sort()).toEqual(Object.values(ROLE_OF).sort());
      for (const [role, s] of statements) {
        // X-Ray offers no resource narrower than "*" for these; nothing else may ride along.
        expect(actions(s).sort(), role).toEqual(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]);
        expect(s.Resource, role).toBe("*");
      }
    },
  );

  it("local: no tracing, no X-Ray permissions (offline and LocalStack have no daemon)", () => {
    for (const fn of FUNCTION_KEYS) {
      expect(lambdaResource(local.template, fn).Properties.TracingConfig, fn).toBeUndefined();
      expect(env(local.template, fn).XRAY_TRACING_ENABLED, fn).toBeUndefined();
    }
    expect(xrayStatements(local.template)).toEqual([]);
  });

  it("keeps the lazily loaded X-Ray code in chunks of the function that loads it, out of every other zip", async () => {
    const chunks: Record<string, string[]> = {};
    for (const fn of FUNCTION_KEYS) {
      const { file } = handlerFile(lambdaResource(local.template, fn));
      const base = file.replace(/\.mjs$/, "");
      const names = [...(await zipEntrySizes(local.zipPath(fn))).keys()].filter((n) => n.endsWith(".mjs"));
      for (const name of names)
        expect(name === file || name.startsWith(`${base}.`), `${fn}: ${name}`).toBe(true);
      chunks[fn] = names.filter((n) => n !== file);
    }
    // The api and the drain import X-Ray code only when tracing is on: it is a chunk, not in their bundles.
    expect(chunks.api?.length).toBeGreaterThan(0);
    expect(chunks.drainOutbox?.length).toBeGreaterThan(0);
    for (const fn of ["api", "drainOutbox"] as const) {
      const { file } = handlerFile(lambdaResource(local.template, fn));
      const dir = join(work, `${fn}-chunks`);
      await extractZip(local.zipPath(fn), dir);
      const read = (name: string) => readFile(join(dir, name), "utf8");
      expect(await read(file), fn).not.toContain("X-Ray for Node.js");
      const inChunks = await Promise.all((chunks[fn] ?? []).map(read));
      expect(
        inChunks.some((code) => code.includes("X-Ray for Node.js")),
        fn,
      ).toBe(true);
    }
  });
});

describe("alarms and dashboard (dev and prod)", () => {
  const ALARMS = {
    OutboxLagAlarm: ["PaymentLedger", "OutboxLag"],
    DeadLettersAlarm: ["PaymentLedger", "DeadLettersRecorded"],
    ApiServerErrorsAlarm: ["PaymentLedger", "RpcServerErrors"],
    DrainFailuresAlarm: ["PaymentLedger", "DrainRuns"],
    DrainThrottlesAlarm: ["AWS/Lambda", "Throttles"],
    RetentionBehindAlarm: ["PaymentLedger", "RetentionLag"],
    DeadLetterFailuresAlarm: ["AWS/SQS", "ApproximateNumberOfMessagesVisible"],
    KafkaTopicMissingAlarm: ["PaymentLedger", "KafkaTopicMissing"],
    DeadLetterTopicMissingAlarm: ["PaymentLedger", "KafkaTopicMissing"],
  } as const;

  it.each(["dev", "prod"] as const)(
    "%s: every alarm watches its metric and notifies one encrypted SNS topic",
    (name) => {
      const template = (name === "dev" ? dev : prod).template;
      const topics = resourcesOfType(template, "AWS::SNS::Topic");
      expect(topics.map(([id]) => id)).toEqual(["AlarmTopic"]);
      expect(topics[0]?.[1].Properties.KmsMasterKeyId).toEqual({ "Fn::GetAtt": ["DataKey", "Arn"] });
      const alarms = Object.fromEntries(resourcesOfType(template, "AWS::CloudWatch::Alarm"));
      expect(Object.keys(alarms).sort()).toEqual(Object.keys(ALARMS).sort());
      for (const [id, [namespace, metric]] of Object.entries(ALARMS)) {
        const p = alarms[id]?.Properties as Record<string, unknown>;
        expect([p.Namespace, p.MetricName], id).toEqual([namespace, metric]);
        expect(p.AlarmActions, id).toEqual([{ Ref: "AlarmTopic" }]);
        expect(typeof p.Threshold, id).toBe("number");
      }
      // The EMF alarms name exactly the dimensions the functions write (lib/observability/metrics.ts).
      expect((alarms.OutboxLagAlarm?.Properties as { Dimensions?: unknown } | undefined)?.Dimensions).toEqual(
        [
          { Name: "service", Value: "payment-ledger" },
          { Name: "function", Value: "drainOutbox" },
        ],
      );
      // Retention behind, or no maintenance run reporting at all: both page.
      expect(alarms.RetentionBehindAlarm?.Properties).toMatchObject({
        Dimensions: [
          { Name: "service", Value: "payment-ledger" },
          { Name: "function", Value: "maintenance" },
        ],
        Statistic: "Maximum",
        ComparisonOperator: "GreaterThanThreshold",
        Threshold: name === "dev" ? 3_600_000 : 1_800_000,
        TreatMissingData: "breaching",
      });
      // Missing data is judged over whole periods: longer than a few of the runs' interval.
      const retention = alarms.RetentionBehindAlarm?.Properties as {
        Period: number;
        EvaluationPeriods: number;
      };
      expect(retention.Period * retention.EvaluationPeriods).toBeGreaterThanOrEqual(600);
      // A missing topic alarms at its first event, from each function that publishes.
      for (const [id, fn] of [
        ["KafkaTopicMissingAlarm", "drainOutbox"],
        ["DeadLetterTopicMissingAlarm", "deadLetter"],
      ] as const) {
        const p = alarms[id]?.Properties as Record<string, unknown>;
        expect(p.Dimensions, id).toEqual([
          { Name: "service", Value: "payment-ledger" },
          { Name: "function", Value: fn },
        ]);
        expect([p.Statistic, p.Threshold, p.ComparisonOperator], id).toEqual([
          "Sum",
          1,
          "GreaterThanOrEqualToThreshold",
        ]);
        expect(p.AlarmDescription, id).toContain("npm run topics");
      }
      // CloudWatch may use the data key to publish to the encrypted topic.
      const key = resourcesOfType(template, "AWS::KMS::Key")[0]?.[1].Properties as {
        KeyPolicy: { Statement: { Principal: { Service?: unknown } }[] };
      };
      expect(key.KeyPolicy.Statement.map((s) => s.Principal.Service)).toContain("cloudwatch.amazonaws.com");
    },
  );

  it("dev: the dashboard shows payments, api errors and latency, outbox lag and delivery, drain runs", () => {
    const dashboards = resourcesOfType(dev.template, "AWS::CloudWatch::Dashboard");
    expect(dashboards).toHaveLength(1);
    const body = JSON.parse(
      (dashboards[0]?.[1].Properties.DashboardBody as { "Fn::Sub": string } | undefined)?.["Fn::Sub"] ?? "{}",
    ) as { widgets: { properties: { metrics: unknown[][] } }[] };
    const metrics = new Set(body.widgets.flatMap((w) => w.properties.metrics.map((m) => m[1])));
    for (const name of [
      "Payments",
      "RpcServerErrors",
      "RpcLatency",
      "OutboxLag",
      "OutboxPublished",
      "DrainRuns",
      "KafkaTopicMissing",
    ]) {
      expect(metrics.has(name), name).toBe(true);
    }
  });

  it("local: no alarms or topic (offline and LocalStack)", () => {
    expect(resourcesOfType(local.template, "AWS::SNS::Topic")).toEqual([]);
    expect(resourcesOfType(local.template, "AWS::CloudWatch::Dashboard")).toEqual([]);
  });
});
