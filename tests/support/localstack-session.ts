/**
 * A LocalStack e2e file's view of the run's one stack (tests/support/localstack-global-setup.ts):
 * its description with the stages the file asked for deployed, and the AWS calls the files share.
 */
import { CloudFormationClient, ListStackResourcesCommand } from "@aws-sdk/client-cloudformation";
import { DisableRuleCommand, EnableRuleCommand, EventBridgeClient } from "@aws-sdk/client-eventbridge";
import {
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionUpdatedV2,
} from "@aws-sdk/client-lambda";
import type { JWK } from "jose";
import { expect, inject } from "vitest";
import { LOCALSTACK_CREDENTIALS } from "../../tools/local-services/localstack-api.ts";
import { deployIntoLocalStack } from "../../tools/local-services/localstack-deploy.ts";
import { LOCAL_STAGE_AUTH_ENV, type LocalStackStackInfo, type Stage } from "./localstack-stack.ts";

/** The stack as the keeper describes it to the files. */
export interface KeptStack extends LocalStackStackInfo {
  /** What each deploy the keeper ran printed, by stage. */
  deployOutputs: Partial<Record<Stage, string>>;
  /** Host mode: the dev stage's token issuer (its key set is served by the keeper). */
  devIssuer?: { jwksUrl: string; privateJwk: JWK };
}

export const REGION = "us-east-1";
/**
 * A file's wait for the stack: LocalStack's start (its first install in host mode takes
 * minutes) and up to two deploys, on a busy machine. For the files' beforeAll.
 */
export const STACK_WAIT_MS = 1_800_000;
/** One deploy of a stage (localstack/deploy.sh), for a test that deploys again. */
export const DEPLOY_TIMEOUT_MS = 600_000;
const KEEPER_POLL_MS = 2_000;

/** The run's stack with `stages` deployed (each once per run, by whichever file asks first). */
export async function openLocalStack(stages: readonly Stage[]): Promise<LocalStackSession> {
  const keeper = inject("localstackKeeper");
  if (!keeper)
    throw new Error("no LocalStack keeper: these files run in vitest.config.ts's localstack project");
  const deadline = Date.now() + STACK_WAIT_MS;
  for (;;) {
    const response = await fetch(`${keeper}/stack?stages=${stages.join(",")}`);
    const body = (await response.json()) as KeptStack | { error: string };
    if (response.status === 200) return new LocalStackSession(keeper, body as KeptStack);
    if ("error" in body) throw new Error(`the run's LocalStack: ${body.error}`);
    if (Date.now() > deadline) throw new Error(`the run's LocalStack not ready in ${STACK_WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, KEEPER_POLL_MS));
  }
}

export class LocalStackSession {
  readonly lambda: LambdaClient;

  constructor(
    private readonly keeper: string,
    readonly stack: KeptStack,
  ) {
    this.lambda = this.aws(LambdaClient);
  }

  /** An AWS SDK client of this LocalStack. */
  aws<T>(make: new (config: object) => T): T {
    return new make({ endpoint: this.stack.endpoint, region: REGION, credentials: LOCALSTACK_CREDENTIALS });
  }

  /** LocalStack's own output so far (host mode), for a failure message. */
  async output(): Promise<string> {
    const response = await fetch(`${this.keeper}/output`);
    return ((await response.json()) as { output: string }).output;
  }

  /** Deploys `stage` again, as the keeper first deployed it; resolves with what the deploy printed. */
  async deploy(stage: Stage): Promise<string> {
    try {
      return await deployIntoLocalStack({
        stage,
        env: { ...LOCAL_STAGE_AUTH_ENV, ...this.stack.deployEnv },
        workFolder: `.esbuild/localstack-${stage}-again-${process.pid}`,
        timeoutMs: DEPLOY_TIMEOUT_MS,
      });
    } catch (error) {
      const failed = error as Error & { output?: string };
      throw new Error(
        `${failed.message}\n${failed.output ?? ""}\nLocalStack's log:\n${(await this.output()).slice(-6000)}`,
      );
    }
  }

  async environment(functionName: string): Promise<Record<string, string>> {
    const configuration = await this.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: functionName }),
    );
    return configuration.Environment?.Variables ?? {};
  }

  /** Changes some of a function's environment variables and waits until the change is live. */
  async setEnvironment(functionName: string, changes: Record<string, string>): Promise<void> {
    const current = await this.environment(functionName);
    await this.lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: functionName,
        Environment: { Variables: { ...current, ...changes } },
      }),
    );
    await waitUntilFunctionUpdatedV2(
      { client: this.lambda, maxWaitTime: 60 },
      { FunctionName: functionName },
    );
  }

  /** A synchronous invoke that must succeed; resolves with the function's answer. */
  async invoke(functionName: string, payload: unknown): Promise<unknown> {
    const out = await this.lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
    const text = new TextDecoder().decode(out.Payload);
    expect(out.FunctionError, text).toBeUndefined();
    return JSON.parse(text);
  }

  async stackResources(stage: Stage) {
    const cloudformation = this.aws(CloudFormationClient);
    try {
      const out = await cloudformation.send(
        new ListStackResourcesCommand({ StackName: `payment-ledger-${stage}` }),
      );
      return out.StackResourceSummaries ?? [];
    } finally {
      cloudformation.destroy();
    }
  }

  /** Turns the drain's schedule of `stage` on or off (the maintenance function has one of its own). */
  async setDrainSchedule(stage: Stage, enabled: boolean): Promise<void> {
    const rules = (await this.stackResources(stage)).filter(
      (r) => r.ResourceType === "AWS::Events::Rule" && r.LogicalResourceId?.startsWith("DrainOutbox"),
    );
    expect(rules).toHaveLength(1);
    const events = this.aws(EventBridgeClient);
    try {
      const Name = rules[0]?.PhysicalResourceId;
      await events.send(enabled ? new EnableRuleCommand({ Name }) : new DisableRuleCommand({ Name }));
    } finally {
      events.destroy();
    }
  }

  close(): void {
    this.lambda.destroy();
  }
}

/**
 * Deployed and not rolled back: created by the first deploy, or updated by a later one (a file
 * that deploys again may run first; and the framework creates the deployment bucket in a first,
 * minimal stack and updates it with everything else).
 */
export function deployed(resource: { ResourceStatus?: string | undefined }): boolean {
  return resource.ResourceStatus === "CREATE_COMPLETE" || resource.ResourceStatus === "UPDATE_COMPLETE";
}
