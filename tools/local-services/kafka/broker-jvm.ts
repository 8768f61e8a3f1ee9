/**
 * One run of the local broker's JVM: spawned with its own output in a log file beside the
 * broker's, guarded by a watchdog that kills it (and removes the broker's directory) if this Node
 * process dies without stopping it, and stopped with a grace period before SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import type { Socket } from "node:net";

// Holds the read end of a pipe whose write end only this Node process owns. When Node dies
// for any reason (even SIGKILL, which skips 'exit' handlers) the read returns EOF and the
// broker is killed, so no orphaned JVM keeps ports and CPU.
const WATCHDOG_SCRIPT = `
while read -r _; do :; done
kill -KILL "$1" 2>/dev/null
i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
rm -rf "$2"
`;
// A clean KRaft shutdown takes a few seconds; past this the broker is hung and gets SIGKILL.
const SHUTDOWN_GRACE_MS = 20_000;

export interface BrokerJvmOptions {
  java: string;
  args: string[];
  /** The broker's directory: its working directory, removed by the watchdog after an orphaned JVM. */
  dir: string;
  /** Where the JVM's own output goes (failures that bypass log4j: bad flags, OOM, crashes). */
  outputFile: string;
  /** Called once when the JVM exits, with why ("java exited with …"), whoever stopped it. */
  onExit(reason: string): void;
}

export class BrokerJvm {
  private readonly child: ChildProcess;
  private readonly watchdog: ChildProcess | undefined;
  /** Why it exited; undefined while it runs. */
  exitReason: string | undefined;
  readonly exited: Promise<void>;

  constructor(private readonly options: BrokerJvmOptions) {
    const out = openSync(options.outputFile, "a");
    try {
      this.child = spawn(options.java, options.args, {
        cwd: options.dir,
        stdio: ["ignore", out, out],
        detached: false,
      });
    } finally {
      closeSync(out);
    }
    // A forgotten stop() must not keep the test runner alive; exit hooks and the watchdog clean up.
    this.child.unref();
    // Absent when the JVM could not even be spawned (no pid to guard).
    this.watchdog = this.child.pid === undefined ? undefined : this.spawnWatchdog(this.child.pid);
    this.exited = new Promise((resolveExit) => {
      this.child.once("error", (error) => {
        this.exitReason = `could not run ${options.java}: ${error.message}`;
        resolveExit();
      });
      this.child.once("exit", (code, signal) => {
        this.exitReason = `java exited with ${signal ?? `code ${code}`}`;
        this.stopWatchdog();
        resolveExit();
        options.onExit(this.exitReason);
      });
    });
  }

  /** SIGSTOP / SIGCONT (a stalled broker), or any other signal; it must be running. */
  signal(signal: NodeJS.Signals): void {
    if (this.exitReason !== undefined) throw new Error(`kafka: ${signal} needs a running broker`);
    this.child.kill(signal);
  }

  /** Stops the JVM and waits until it is really gone (SIGKILL after a grace period). */
  async terminate(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    this.stopWatchdog();
    if (this.exitReason !== undefined) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), SHUTDOWN_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Last resort when Node exits without a stop: only synchronous work is possible there. */
  killSync(): void {
    const pid = this.exitReason === undefined ? this.child.pid : undefined;
    if (pid === undefined) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }

  private spawnWatchdog(brokerPid: number): ChildProcess {
    const args = ["-c", WATCHDOG_SCRIPT, "kafka-watchdog", String(brokerPid), this.options.dir];
    const watchdog = spawn("sh", args, { stdio: ["pipe", "ignore", "ignore"], detached: false });
    watchdog.on("error", () => undefined);
    watchdog.unref();
    (watchdog.stdin as Socket | null)?.unref();
    return watchdog;
  }

  /** Stopped together with the JVM, so it can never act on a recycled pid. */
  private stopWatchdog(): void {
    this.watchdog?.kill("SIGKILL");
    this.watchdog?.stdin?.destroy();
  }
}
