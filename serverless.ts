/**
 * The deployable service: five Lambdas, their HTTP API, schedules, roles and
 * the dead-letter safety net. This file composes the parts in infra/, one job
 * each:
 *
 *   stages.ts               what differs per stage (local, dev, prod), as data
 *   deployment.ts           which stage this run builds (--stage / -s, default local)
 *   functions.ts            the five functions
 *   iam.ts                  one role per function
 *   encryption.ts           dev/prod: the data key and its key policy
 *   dead-letter-failures.ts the queue under the dead-letter function, and its alarm
 *   http-api.ts             the api's access log and throttling
 *   vpc.ts                  prod: private subnets
 *   monitoring.ts           dev/prod: alarms, their topic and a dashboard
 *   scan-suppressions.ts    accepted checkov findings, each with its reason
 *   esbuild.ts              how each function is bundled
 *
 * Stages:
 *   local  settings from the shell environment (serverless offline, LocalStack);
 *          anything unset falls back to the defaults declared in lib/config/. Kafka's
 *          among them (brokers, TLS and its CA, the SASL login), which npm run dev and
 *          localstack/deploy.sh point at the local broker's SASL_SSL listener.
 *   dev    settings from SSM Parameter Store and Secrets Manager.
 *   prod   the same, plus a VPC so the functions reach Postgres through RDS Proxy.
 */

import type { AWS } from "serverless";
import { deadLetterFailuresAlarm, deadLetterFailuresQueue } from "./infra/dead-letter-failures.ts";
import { deploymentFrom } from "./infra/deployment.ts";
import { DATA_KEY_ARN, dataKeyResource, hasDataKey, logGroupEncryption } from "./infra/encryption.ts";
import { esbuildOptions } from "./infra/esbuild.ts";
import { functions } from "./infra/functions.ts";
import { HTTP_API_ACCESS_LOG_FORMAT, httpApiStageThrottling } from "./infra/http-api.ts";
import { kafkaKeyParameter, roles } from "./infra/iam.ts";
import { monitoringResources } from "./infra/monitoring.ts";
import { deploymentBucketSuppressions, functionSuppressions } from "./infra/scan-suppressions.ts";
import { SERVICE } from "./infra/stages.ts";
import { functionsVpc, vpcParameters } from "./infra/vpc.ts";
import { devConfig } from "./lib/config.ts";

const deployment = deploymentFrom(process.argv, process.env);
const { stage, settings } = deployment;

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
    logs: { httpApi: { format: HTTP_API_ACCESS_LOG_FORMAT } },
    // Nothing points at versions (no aliases, no provisioned concurrency); each deploy would pile one up.
    versionFunctions: false,
    ...functionsVpc(deployment),
    ...(!deployment.apiFunctionUrl && { httpApi: { payload: "2.0", metrics: true } }),
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
  functions: functions(deployment),
  resources: {
    Parameters: { ...vpcParameters(deployment), ...kafkaKeyParameter(deployment) },
    Resources: {
      ...roles(deployment),
      ...deadLetterFailuresQueue(deployment),
      ...(hasDataKey(deployment) && dataKeyResource(deployment)),
      ...deadLetterFailuresAlarm(deployment),
      ...(settings.alarms &&
        monitoringResources({
          service: SERVICE,
          stage,
          namespace: "PaymentLedger",
          thresholds: settings.alarms,
          dataKeyArn: DATA_KEY_ARN,
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
        Metadata: deploymentBucketSuppressions(),
      },
      ...functionSuppressions(deployment),
      ...(hasDataKey(deployment) && logGroupEncryption()),
      ...httpApiStageThrottling(deployment),
    },
  },
  custom: {
    // serverless offline (patched): its HTTP and Lambda APIs answer only these Host names, as
    // API Gateway answers only for its own domain; a page on a DNS-rebound name gets 403.
    "serverless-offline": { allowedHosts: devConfig(process.env).allowedHosts },
    esbuild: esbuildOptions(process.env),
  },
};

export default serverlessConfiguration;
