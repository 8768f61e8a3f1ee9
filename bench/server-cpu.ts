/**
 * CPU time of a Postgres server running on this machine, from /proc: what the
 * benchmarks report as the server's cost when the machine is too busy for
 * rates to mean much (CPU time does not grow with the wait for a core).
 */
import { readdirSync, readFileSync } from "node:fs";
import type pg from "pg";

// Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every architecture Node runs on.
const TICK_MS = 10;

function statFields(pid: number | string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (in parentheses) may hold spaces: fields start after it, at field 3 (state).
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The postmaster's pid, when this session's backend runs on this machine; else undefined. */
export function localPostmaster(client: pg.Client): number | undefined {
  const backend = (client as unknown as { processID?: number }).processID;
  if (backend === undefined) return undefined;
  const fields = statFields(backend);
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${backend}/cmdline`, "utf8");
    } catch {
      return "";
    }
  })();
  if (!fields || !cmdline.startsWith("postgres")) return undefined;
  return Number(fields[1]);
}

/**
 * CPU time of the whole server: the postmaster's own and what it collected
 * from children that exited (backends come and go), plus its live children's.
 */
export function serverCpuMs(postmaster: number): number | undefined {
  const own = statFields(postmaster);
  if (!own) return undefined;
  // utime, stime, cutime, cstime: fields 14-17, here at 11-14.
  let ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(own[i] ?? 0), 0);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields && Number(fields[1]) === postmaster)
      ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks * TICK_MS;
}

/** CPU time of this process's children that have exited and been waited for (a pgbench run), in ms. */
export function exitedChildrenCpuMs(): number {
  const own = statFields("self");
  // cutime, cstime: fields 16-17, here at 13-14.
  return own ? (Number(own[13] ?? 0) + Number(own[14] ?? 0)) * TICK_MS : 0;
}
