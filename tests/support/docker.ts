import { existsSync } from "node:fs";
import { request } from "node:http";

/**
 * Whether a Docker daemon answers, and if not, why. Checked cheaply (a ping
 * on the socket with a short timeout) so machines without Docker lose no time.
 */
export async function dockerStatus(): Promise<{ available: boolean; reason: string }> {
  const host = process.env.DOCKER_HOST;
  if (host && !host.startsWith("unix://")) {
    return { available: true, reason: `DOCKER_HOST=${host}` };
  }
  const socketPath = host ? host.slice("unix://".length) : "/var/run/docker.sock";
  if (!existsSync(socketPath)) return { available: false, reason: `no Docker socket at ${socketPath}` };
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 1500 }, (res) => {
      res.resume();
      resolve(
        res.statusCode === 200
          ? { available: true, reason: `Docker daemon at ${socketPath}` }
          : { available: false, reason: `Docker daemon at ${socketPath} answered HTTP ${res.statusCode}` },
      );
    });
    req.on("timeout", () => {
      req.destroy();
      resolve({ available: false, reason: `Docker daemon at ${socketPath} did not answer` });
    });
    req.on("error", (error) =>
      resolve({ available: false, reason: `Docker daemon unreachable: ${error.message}` }),
    );
    req.end();
  });
}
