/**
 * The one LocalStack of the LocalStack e2e files (vitest.config.ts's "localstack" project).
 *
 * Vitest runs every test file in a worker of its own, so a stack per file would start LocalStack
 * (slow in host mode) and deploy each stage again in every file. This global setup lives as long
 * as the run, in vitest's own process, and keeps one stack: it serves a description of it on a
 * loopback port (`localstackKeeper`), starting LocalStack on the first request and deploying each
 * stage once, when a file first asks for it. A run without those files starts nothing.
 *
 * The files run one after another (the project's fileParallelism is off): their tests change a
 * stage while they run (the schedule, a function's environment, the dev stage's secret, a
 * redeploy), which no other file may see midway.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import type { KafkaClientEnv } from "../../tools/local-services/kafka.ts";
import { deployIntoLocalStack } from "../../tools/local-services/localstack-deploy.ts";
import { type JwksIssuer, startJwksIssuer } from "./jwks-issuer.ts";
import type { KeptStack } from "./localstack-session.ts";
import {
  LOCAL_STAGE_AUTH_ENV,
  type LocalStackStack,
  localStackAvailability,
  type Stage,
  startLocalStackStack,
} from "./localstack-stack.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where the LocalStack e2e files ask for the run's stack (tests/support/localstack-session.ts). */
    localstackKeeper: string;
  }
}

const STAGES: readonly Stage[] = ["local", "dev"];

interface Tracked<T> {
  promise: Promise<T>;
  settled?: { value: T } | { error: string };
}

function track<T>(promise: Promise<T>): Tracked<T> {
  const tracked: Tracked<T> = { promise };
  promise.then(
    (value) => {
      tracked.settled = { value };
    },
    (error: unknown) => {
      tracked.settled = { error: error instanceof Error ? error.message : String(error) };
    },
  );
  return tracked;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let started: Promise<{ stack: LocalStackStack; issuer: JwksIssuer | undefined }> | undefined;
  const deploys = new Map<Stage, Promise<string>>();
  const requests = new Map<string, Tracked<KeptStack>>();

  const start = () => {
    started ??= (async () => {
      const availability = await localStackAvailability();
      if (!availability.kind) throw new Error(`no LocalStack: ${availability.reason}`);
      // The dev stage's identity provider: its key set must be up before LocalStack seeds its URL.
      // Host mode only: functions in containers could not reach it.
      const issuer = availability.kind === "host" ? await startJwksIssuer() : undefined;
      const context = project.getProvidedContext();
      try {
        const stack = await startLocalStackStack(availability.kind, {
          pgAdminUrl: context.pgAdminUrl,
          pgPooler: context.pgPooler,
          kafkaEnv: JSON.parse(context.kafkaEnv) as KafkaClientEnv,
          devJwksUrl: issuer?.jwksUrl,
        });
        return { stack, issuer };
      } catch (error) {
        await issuer?.close();
        throw error;
      }
    })();
    return started;
  };

  const deploy = (stack: LocalStackStack, stage: Stage) => {
    let deployed = deploys.get(stage);
    if (!deployed) {
      deployed = deployIntoLocalStack({
        stage,
        env: { ...LOCAL_STAGE_AUTH_ENV, ...stack.deployEnv },
        workFolder: `.esbuild/localstack-${stage}-${process.pid}`,
      }).catch(async (error: Error & { output?: string }) => {
        throw new Error(
          `${error.message}\n${error.output ?? ""}\nLocalStack's log:\n${(await stack.output()).slice(-6000)}`,
        );
      });
      deploys.set(stage, deployed);
    }
    return deployed;
  };

  const keep = async (stages: readonly Stage[]): Promise<KeptStack> => {
    const { stack, issuer } = await start();
    const outputs: Partial<Record<Stage, string>> = {};
    // One after another: two deploys at once would only contend for the same two cores.
    for (const stage of stages) outputs[stage] = await deploy(stack, stage);
    const { output: _output, stop: _stop, ...info } = stack;
    return {
      ...info,
      deployOutputs: outputs,
      ...(issuer && { devIssuer: { jwksUrl: issuer.jwksUrl, privateJwk: issuer.privateJwk } }),
    };
  };

  const answer = (response: ServerResponse, status: number, body: unknown) =>
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://keeper");
    if (url.pathname === "/output") {
      void (started ?? Promise.reject(new Error("not started")))
        .then(({ stack }) => stack.output())
        .then(
          (text) => answer(response, 200, { output: text }),
          () => answer(response, 200, { output: "" }),
        );
      return;
    }
    const asked = (url.searchParams.get("stages") ?? "").split(",").filter(Boolean);
    const stages = STAGES.filter((stage) => asked.includes(stage));
    const key = stages.join(",");
    let tracked = requests.get(key);
    if (!tracked) {
      tracked = track(keep(stages));
      requests.set(key, tracked);
    }
    // Answered at once, so no request outlives an HTTP client's timeout: the file asks again.
    const settled = tracked.settled;
    if (!settled) return answer(response, 202, { state: "starting" });
    if ("error" in settled) return answer(response, 500, { error: settled.error });
    return answer(response, 200, settled.value);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("localstackKeeper", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);

  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (!started) return;
    const kept = await started.catch(() => undefined);
    // Deploys still running (a file gave up on them) end with LocalStack.
    await kept?.stack.stop();
    await kept?.issuer?.close();
  };
}
