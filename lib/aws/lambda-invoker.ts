import { untilAborted } from "../abortable.ts";
import type { LambdaClientConfig } from "../config.ts";

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export class InvokeRejectedError extends Error {
  constructor(functionName: string, detail: string) {
    super(`async invoke of ${functionName} was not accepted: ${detail}`);
    this.name = "InvokeRejectedError";
  }
}

/**
 * How long one hand-off may take, SDK retries included. Lambda accepts an
 * async invoke in milliseconds; one that has no answer by then (a stale
 * connection, an overloaded local runtime) is a rejected hand-off the caller
 * retries, not a wait that eats the drain's whole run.
 */
export const INVOKE_TIMEOUT_MS = 10_000;

type Sdk = typeof import("@aws-sdk/client-lambda");
type Client = { sdk: Sdk; client: InstanceType<Sdk["LambdaClient"]> };

/**
 * Queues asynchronous Lambda invocations (InvocationType "Event").
 * LAMBDA_ENDPOINT points it at serverless-offline or LocalStack; otherwise it
 * is the AWS endpoint with the default credential chain.
 *
 * The SDK is loaded on the first invoke, not at import: it is most of a cold
 * start's module loading, and the api only needs it once a payment commits
 * (the nudge), the drain only once an event is dead-lettered.
 */
export class AsyncLambdaInvoker {
  private client: Promise<Client> | undefined;

  constructor(
    private readonly config: LambdaClientConfig,
    private readonly credentials?: StaticCredentials,
    private readonly timeoutMs: number = INVOKE_TIMEOUT_MS,
  ) {}

  /**
   * Resolves only once Lambda accepted the invocation (HTTP 202): from then on
   * Lambda owns delivery, including its own retries. The deadline covers the
   * SDK's first load too.
   */
  async invoke(functionName: string, payload: unknown): Promise<void> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    try {
      // A load that outlives this call still completes and serves the next one.
      const { sdk, client } = await untilAborted(this.connected(), deadline);
      const output = await client.send(
        new sdk.InvokeCommand({
          FunctionName: functionName,
          InvocationType: "Event",
          Payload: new TextEncoder().encode(JSON.stringify(payload)),
        }),
        { abortSignal: deadline },
      );
      if (output.StatusCode !== 202) {
        throw new InvokeRejectedError(functionName, `status ${output.StatusCode ?? "none"}`);
      }
    } catch (error) {
      if (deadline.aborted && !(error instanceof InvokeRejectedError)) {
        throw new InvokeRejectedError(functionName, `no answer within ${this.timeoutMs} ms`);
      }
      throw error;
    }
  }

  /** Closes the client's connections, if it was ever loaded. */
  async close(): Promise<void> {
    const loaded = await this.client?.catch(() => undefined);
    this.client = undefined;
    loaded?.client.destroy();
  }

  private connected(): Promise<Client> {
    if (!this.client) {
      this.client = import("@aws-sdk/client-lambda").then((sdk) => ({
        sdk,
        client: new sdk.LambdaClient({
          region: this.config.region,
          ...(this.config.endpoint ? { endpoint: this.config.endpoint } : {}),
          ...(this.credentials ? { credentials: this.credentials } : {}),
        }),
      }));
      // A failed load must not be cached: the next invoke tries again.
      this.client.catch(() => {
        this.client = undefined;
      });
    }
    return this.client;
  }
}
