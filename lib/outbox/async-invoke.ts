import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import type { LambdaClientConfig } from "../config.ts";

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * A Lambda client for the settings. LAMBDA_ENDPOINT points it at
 * serverless-offline or LocalStack; otherwise it is the AWS endpoint with the
 * default credential chain.
 */
export function createLambdaClient(
  config: LambdaClientConfig,
  credentials?: StaticCredentials,
): LambdaClient {
  return new LambdaClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

export class InvokeRejectedError extends Error {
  constructor(functionName: string, detail: string) {
    super(`async invoke of ${functionName} was not accepted: ${detail}`);
    this.name = "InvokeRejectedError";
  }
}

/**
 * Queues an asynchronous invocation (InvocationType "Event"). Resolves only
 * once Lambda accepted it (HTTP 202): from then on Lambda owns delivery,
 * including its own retries.
 */
export async function invokeAsync(
  client: LambdaClient,
  functionName: string,
  payload: unknown,
): Promise<void> {
  const output = await client.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: "Event",
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    }),
  );
  if (output.StatusCode !== 202) {
    throw new InvokeRejectedError(functionName, `status ${output.StatusCode ?? "none"}`);
  }
}
