/**
 * The parent's side of a function process (bench/lambda/host.ts): start it,
 * invoke it, ask it for its stats, stop it. Every process is the parent's
 * own child, stopped when the benchmark ends.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { FromHost, HostRole, HostStats, ToHost } from "./protocol.ts";

const HOST = fileURLToPath(new URL("./host.ts", import.meta.url));

export interface InvokeOutcome {
  ms: number;
  result?: unknown;
  error?: string;
}

export class FunctionProcess {
  private nextId = 0;
  private readonly waiting = new Map<number, (outcome: InvokeOutcome) => void>();
  private statsWaiters: ((stats: HostStats | undefined) => void)[] = [];
  private exited = false;
  /** Set while an invocation runs: a container serves one at a time. */
  busy = false;
  url: string | undefined;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (message: FromHost) => {
      if (message.type === "done") {
        this.waiting.get(message.id)?.(message);
        this.waiting.delete(message.id);
      } else if (message.type === "stats") {
        for (const resolve of this.statsWaiters.splice(0)) resolve(message.stats);
      }
    });
    child.on("exit", () => {
      this.exited = true;
      for (const [, resolve] of this.waiting) resolve({ ms: 0, error: `${name} exited` });
      this.waiting.clear();
      for (const resolve of this.statsWaiters.splice(0)) resolve(undefined);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts the role's process with `env` (added to this process's) and waits until it is ready. */
  static async start(name: string, role: HostRole, env: Record<string, string>): Promise<FunctionProcess> {
    const child = fork(HOST, [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, ...env, FUNCTION_ROLE: role },
      // Log lines and EMF metrics are written as in Lambda, and dropped here; errors show.
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const process_ = new FunctionProcess(name, child);
    const ready = await new Promise<FromHost & { type: "ready" }>((resolve, reject) => {
      child.on("message", (message: FromHost) => {
        if (message.type === "ready") resolve(message);
      });
      child.once("exit", (code, signal) =>
        reject(new Error(`${name} exited (${signal ?? code}) before it was ready`)),
      );
    });
    process_.url = ready.url;
    return process_;
  }

  /** One invocation of `event` with a Lambda context of `timeoutMs`; resolves when it returns. */
  invoke(timeoutMs: number, event: unknown = {}): Promise<InvokeOutcome> {
    if (this.exited) return Promise.resolve({ ms: 0, error: `${this.name} exited` });
    const id = this.nextId++;
    this.busy = true;
    return new Promise<InvokeOutcome>((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ type: "invoke", id, timeoutMs, event });
    }).finally(() => {
      this.busy = false;
    });
  }

  /** Memory, CPU time, and the calls since the last stats. */
  stats(): Promise<HostStats | undefined> {
    if (this.exited) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.statsWaiters.push(resolve);
      this.send({ type: "stats" });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.send({ type: "stop" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  }

  private send(message: ToHost): void {
    if (!this.exited && this.child.connected) this.child.send(message);
  }
}
