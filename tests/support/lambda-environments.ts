/**
 * Which execution environments (warm containers) of a function a host-mode LocalStack is
 * running. Host mode runs each environment as a process on this machine with the function's
 * Lambda environment, so its variables say which function it serves, which LocalStack started
 * it (EDGE_PORT: other LocalStacks on this machine run functions of the same name) and which
 * environment it is (AWS_LAMBDA_LOG_STREAM_NAME: one stream per environment, as on AWS).
 */
import { readdir, readFile } from "node:fs/promises";

/** The log stream names of `functionName`'s live environments in the LocalStack at `endpoint`, sorted. */
export async function executionEnvironments(endpoint: string, functionName: string): Promise<string[]> {
  const port = new URL(endpoint).port;
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
    // Gone meanwhile, or not ours to read: not one of them.
    const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
    const variables = new Map(
      environ
        .split("\0")
        .filter((entry) => entry.includes("="))
        .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
    );
    const stream = variables.get("AWS_LAMBDA_LOG_STREAM_NAME");
    if (
      variables.get("AWS_LAMBDA_FUNCTION_NAME") === functionName &&
      variables.get("EDGE_PORT") === port &&
      stream
    )
      found.push(stream);
  }
  // (A wrapper process would carry the same variables.)
  return [...new Set(found)].sort();
}
