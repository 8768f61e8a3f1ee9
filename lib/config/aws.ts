/** The Lambda client (the api's nudge, the drain's dead letters) and what the Lambda runtime tells a function. */
import { type ConfigOf, declare, type Env, type Reader, readAll, text } from "./declare.ts";

const READ_BY: readonly Reader[] = ["api", "drainOutbox", "scripts"];

export const LAMBDA_CLIENT = {
  region: declare("AWS_REGION", text({ example: "eu-west-1" }), {
    default: "us-east-1",
    doc: "region of the Lambda invokes.",
    readBy: READ_BY,
    setBy: "Lambda",
  }),
  endpoint: declare("LAMBDA_ENDPOINT", text({ example: "http://127.0.0.1:3002" }), {
    default: undefined,
    defaultText: "none (the AWS endpoint)",
    doc:
      "e.g. http://127.0.0.1:3002 for serverless-offline (which serves the Lambda Invoke API itself) or " +
      "http://localhost:4566 for LocalStack; unset, the SDK's own (AWS, or AWS_ENDPOINT_URL inside LocalStack).",
    readBy: READ_BY,
  }),
};

export type LambdaClientConfig = ConfigOf<typeof LAMBDA_CLIENT>;

export function lambdaClientConfig(env: Env): LambdaClientConfig {
  return readAll(env, LAMBDA_CLIENT);
}

export const LAMBDA_RUNTIME = {
  logStreamName: declare("AWS_LAMBDA_LOG_STREAM_NAME", text(), {
    default: "drain",
    doc: "the container's log stream: names a drain in its logs and in the leases it holds.",
    readBy: ["drainOutbox"],
    setBy: "Lambda",
  }),
};

export type LambdaRuntimeConfig = ConfigOf<typeof LAMBDA_RUNTIME>;

export function lambdaRuntimeConfig(env: Env): LambdaRuntimeConfig {
  return readAll(env, LAMBDA_RUNTIME);
}
