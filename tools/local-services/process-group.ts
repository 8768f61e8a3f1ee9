/**
 * Services started here run in process groups of their own, so stopping one
 * stops everything it spawned; a watchdog stops the group if this process
 * dies without doing so.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";

/** Sends `signal` to the whole group led by `pid`; a group already gone is fine. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/**
 * A shell that waits for its stdin (our end of a pipe) to close, which
 * happens when this process exits however it exits, then sends the group
 * `stopSignal` and, `graceSeconds` later, SIGKILL.
 */
export function spawnGroupWatchdog(
  pgid: number,
  name: string,
  stopSignal: "INT" | "TERM",
  graceSeconds: number,
): ChildProcess {
  // "-s SIG --": the only form of a group kill that every sh accepts (dash, Debian's sh, refuses
  // "kill -SIG -- -pgid" as an illegal number, so the group would outlive us).
  const script = `
while read -r _; do :; done
kill -s ${stopSignal} -- "-$1" 2>/dev/null
sleep ${graceSeconds}
kill -s KILL -- "-$1" 2>/dev/null
`;
  const watchdog = spawn("sh", ["-c", script, name, String(pgid)], { stdio: ["pipe", "ignore", "ignore"] });
  watchdog.on("error", () => undefined);
  watchdog.unref();
  (watchdog.stdin as Socket | null)?.unref();
  return watchdog;
}
