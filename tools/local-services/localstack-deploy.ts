/**
 * A stage deployed into LocalStack with the documented script (localstack/deploy.sh: the topics,
 * `serverless deploy` through AWS_ENDPOINT_URL, then the migrate function), for
 * `npm run dev -- --localstack` and the LocalStack tests alike.
 */
import { spawn } from "node:child_process";
import { PROJECT_ROOT } from "./offline.ts";

export interface LocalStackDeployOptions {
  stage: "local" | "dev";
  /**
   * localstack/deploy.sh's settings (LOCALSTACK_ENDPOINT, LOCALSTACK_DATABASE_URL,
   * LOCALSTACK_KAFKA_*, …) and the local stage's own, on top of this process's environment.
   */
  env: Record<string, string>;
  /** esbuild's work folder, relative to the project: separate deploys need separate folders. */
  workFolder: string;
  /** Each line the deploy prints, as it prints it. */
  onLine?: (line: string) => void;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 600_000;

/** Resolves with everything the deploy printed; rejects with it when the deploy fails. */
export function deployIntoLocalStack(options: LocalStackDeployOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["localstack/deploy.sh", options.stage], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...options.env, ESBUILD_WORK_FOLDER: options.workFolder },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let partial = "";
    const collect = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output += text;
      if (!options.onLine) return;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) options.onLine(line);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`deploy ${options.stage}: ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (partial.trim()) options.onLine?.(partial);
      if (code === 0) return resolve(output);
      const why = signal ? `was stopped after ${timeoutMs / 1000} s (${signal})` : `exited with ${code}`;
      reject(Object.assign(new Error(`deploy ${options.stage} ${why}`), { output }));
    });
  });
}
