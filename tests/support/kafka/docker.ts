import { setTimeout as sleep } from "node:timers/promises";
import { RedpandaContainer } from "@testcontainers/redpanda";
import { getContainerRuntimeClient } from "testcontainers";

const PROBE_TIMEOUT_MS = 5_000;
const DEFAULT_REDPANDA_IMAGE = "docker.redpanda.com/redpandadata/redpanda:v24.2.4";

export type DockerProbe = { available: true } | { available: false; reason: string };

/**
 * Asks testcontainers for a container runtime. Bounded by a timeout because a DOCKER_HOST pointing
 * at an unreachable TCP address can otherwise hang until the OS connect timeout.
 */
export async function probeDocker(): Promise<DockerProbe> {
  const abort = new AbortController();
  const timeout = sleep(PROBE_TIMEOUT_MS, undefined, { ref: false, signal: abort.signal }).then(() => {
    throw new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`);
  });
  // The loser of the race must not surface later as an unhandled rejection.
  timeout.catch(() => undefined);
  try {
    await Promise.race([getContainerRuntimeClient(), timeout]);
    return { available: true };
  } catch (error) {
    return { available: false, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    abort.abort();
  }
}

export interface StartedRedpanda {
  brokers: string[];
  description: string;
  stop(): Promise<void>;
}

export async function startRedpanda(): Promise<StartedRedpanda> {
  const image = process.env.REDPANDA_IMAGE?.trim() || DEFAULT_REDPANDA_IMAGE;
  const container = await new RedpandaContainer(image).start();
  return {
    brokers: [container.getBootstrapServers()],
    description: `Redpanda container ${image}`,
    stop: async () => {
      await container.stop();
    },
  };
}
