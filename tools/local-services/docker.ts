import { setTimeout as sleep } from "node:timers/promises";

const PROBE_TIMEOUT_MS = 5_000;

export interface DockerStatus {
  available: boolean;
  /** Which runtime answered, or why none did: printed when tests fall back or skip. */
  reason: string;
}

let probe: Promise<DockerStatus> | undefined;

/**
 * Whether a container runtime answers, asked the way testcontainers will use
 * it (DOCKER_HOST, the default and rootless sockets, ~/.testcontainers.properties),
 * so "available" here means the containers can actually start. Asked once per
 * process; bounded by a timeout because a DOCKER_HOST pointing at an
 * unreachable TCP address can otherwise hang until the OS connect timeout.
 */
export function dockerStatus(): Promise<DockerStatus> {
  probe ??= askTestcontainers();
  return probe;
}

async function askTestcontainers(): Promise<DockerStatus> {
  const abort = new AbortController();
  const timeout = sleep(PROBE_TIMEOUT_MS, undefined, { ref: false, signal: abort.signal }).then(() => {
    throw new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`);
  });
  // The loser of the race must not surface later as an unhandled rejection.
  timeout.catch(() => undefined);
  try {
    // Loaded lazily: testcontainers is slow to import and unused when every service comes from env.
    const { getContainerRuntimeClient } = await import("testcontainers");
    const client = await Promise.race([getContainerRuntimeClient(), timeout]);
    return { available: true, reason: `container runtime ${client.info.containerRuntime.host}` };
  } catch (error) {
    return {
      available: false,
      reason: `testcontainers: ${error instanceof Error ? error.message : String(error)}`,
    };
  } finally {
    abort.abort();
  }
}
