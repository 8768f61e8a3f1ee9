/**
 * Security scanner (checkov) findings this template accepts, each with the
 * reason it does not apply. checkov reads them from the resources' Metadata
 * and prints them as skipped (scripts/scan-templates.sh, `npm run scan`).
 */
import type { Deployment } from "./deployment.ts";

type Findings = Record<string, string>;

/** checkov reads suppressions from a resource's Metadata; each one carries its reason. */
const checkovSkip = (checks: Findings) => ({
  checkov: { skip: Object.entries(checks).map(([id, comment]) => ({ id, comment })) },
});

const ENV_NOT_SECRET =
  "The environment holds no secret: secrets are read from Secrets Manager at run time (a test asserts it on the packaged templates). " +
  "Lambda already encrypts it at rest with an AWS managed key; a customer managed key would add a KMS call to every cold start and a way to break every function while protecting nothing secret.";
const NO_VPC_IN_DEV =
  "dev reaches its managed Postgres and Redpanda Cloud over TLS on public endpoints; a VPC (and the NAT gateway the nudge and dead-letter invokes would then need) adds cost and no isolation there. prod runs in private subnets.";

/** The deployment bucket's Metadata: the framework's own bucket, extended in serverless.ts. */
export const deploymentBucketSuppressions = () =>
  checkovSkip({
    CKV_AWS_18:
      "Holds only the framework's deployment artifacts (bundles, templates), written by the deployer and read by CloudFormation; public access is blocked and TLS is required. " +
      "Who deployed what is recorded by CloudTrail; server access logs would need a second bucket that would itself fail this check.",
  });

/** Extensions of the functions' resources: the accepted findings of each, with their reasons. */
export function functionSuppressions(d: Deployment) {
  const findings = (extra: Findings): Findings => ({
    CKV_AWS_173: ENV_NOT_SECRET,
    ...(d.stage === "dev" && { CKV_AWS_117: NO_VPC_IN_DEV }),
    ...extra,
  });
  const perFunction: Record<string, Findings> = {
    ApiLambdaFunction: findings({
      CKV_AWS_116:
        "Invoked synchronously by the HTTP API: every failure returns to the caller as a gRPC status. A DLQ only receives failed asynchronous invocations, which the api never gets.",
    }),
    DrainOutboxLambdaFunction: findings({
      CKV_AWS_116:
        "Its events (schedule ticks, nudges) carry no payload: the work lives in the outbox table, and the next run picks up whatever a failed run left. Retries are off on purpose; a DLQ would only collect empty events.",
    }),
    DeadLetterLambdaFunction: findings({
      CKV_AWS_116:
        "Failed asynchronous invocations go to an on-failure destination, the SQS queue DeadLetterFailuresQueue (alarmed), which also keeps the error; checkov only recognises the older DeadLetterConfig.",
    }),
    MaintenanceLambdaFunction: findings({
      CKV_AWS_116:
        "Its schedule events carry no payload: the work is the tables' state, and the next run deletes whatever a failed run left. Retries are off on purpose; a DLQ would only collect empty events.",
    }),
    MigrateLambdaFunction: findings({
      CKV_AWS_116:
        "Invoked synchronously by the deploy script, which fails the deploy when it fails; retries are off, so no asynchronous failure exists to keep.",
    }),
  };
  return Object.fromEntries(
    Object.entries(perFunction).map(([id, checks]) => [id, { Metadata: checkovSkip(checks) }]),
  );
}
