import { execFileSync } from "node:child_process";

/** The process listening on a local TCP port (via ss), for tests that must kill a server abruptly. */
export function listenerPid(port: number): number {
  const out = execFileSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8" });
  const pid = /pid=(\d+)/.exec(out)?.[1];
  if (!pid) throw new Error(`nothing (visible) listens on port ${port}: ${out.trim() || "no socket"}`);
  return Number(pid);
}
