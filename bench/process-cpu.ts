/**
 * CPU time of the processes a benchmark runs against, read from /proc
 * (Linux only): on a shared machine a rate swings with the load, while the
 * CPU each process spent per event moves much less, so the benchmarks print
 * both. Only for servers this run started on this host; elsewhere (another
 * host, another OS) every reading is undefined and the column says n/a.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { tryExec } from "./support.ts";

const TICKS_PER_SECOND = Number(tryExec("getconf", ["CLK_TCK"])?.trim() ?? "100") || 100;

interface Stat {
  ppid: number;
  /** utime + stime: the process's own threads. */
  own: number;
  /** cutime + cstime: children it has reaped (short-lived workers). */
  reaped: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const n = (i: number) => Number(fields[i]);
    // Fields 4, 14..17 of proc(5), counted from 1 at the pid: ppid, utime, stime, cutime, cstime.
    return { ppid: n(1), own: n(11) + n(12), reaped: n(13) + n(14) };
  } catch {
    return undefined;
  }
}

function pids(): number[] {
  try {
    return readdirSync("/proc")
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU milliseconds of a process and every live descendant, plus what it reaped; undefined when unreadable. */
export function treeCpuMs(root: number): number | undefined {
  const stats = new Map<number, Stat>();
  for (const pid of pids()) {
    const stat = readStat(pid);
    if (stat) stats.set(pid, stat);
  }
  const rootStat = stats.get(root);
  if (!rootStat) return undefined;
  let ticks = rootStat.own + rootStat.reaped;
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const [pid, stat] of stats) {
      if (stat.ppid !== parent) continue;
      ticks += stat.own + stat.reaped;
      frontier.push(pid);
    }
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** The process with a socket listening on a local TCP port, if this host has one. */
export function pidListening(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // State 0A is LISTEN; the port is the hex after the colon.
      if (!local || cols[3] !== "0A") continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) === port && cols[9])
        inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of pids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith("socket:[") && inodes.has(target.slice(8, -1))) return pid;
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return undefined;
}

/** The parent of a process (a Postgres backend's is the postmaster). */
export function parentPid(pid: number): number | undefined {
  return readStat(pid)?.ppid;
}

export interface CpuSample {
  /** This process: main thread, libuv pool and V8's helper threads. */
  node: number;
  postgres: number | undefined;
  broker: number | undefined;
}

/** Reads this process's CPU and, when known, the Postgres server's and the broker's, in ms. */
export class CpuMeter {
  constructor(
    private readonly postmaster: number | undefined,
    private readonly broker: number | undefined,
  ) {}

  sample(): CpuSample {
    const own = process.cpuUsage();
    return {
      node: (own.user + own.system) / 1000,
      postgres: this.postmaster === undefined ? undefined : treeCpuMs(this.postmaster),
      broker: this.broker === undefined ? undefined : treeCpuMs(this.broker),
    };
  }

  /** Microseconds of CPU per event since `from`, per process. */
  perEvent(from: CpuSample, events: number): CpuSample {
    const to = this.sample();
    const per = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? undefined : ((b - a) * 1000) / events;
    return {
      node: per(from.node, to.node) as number,
      postgres: per(from.postgres, to.postgres),
      broker: per(from.broker, to.broker),
    };
  }
}

/** This process's, Postgres's and the broker's CPU together; undefined when either server's is unknown. */
export function cpuTotal(sample: CpuSample): number | undefined {
  return sample.postgres === undefined || sample.broker === undefined
    ? undefined
    : sample.node + sample.postgres + sample.broker;
}

export function formatCpu(sample: CpuSample): string {
  const us = (v: number | undefined) => (v === undefined ? "n/a" : v.toFixed(1));
  const total = cpuTotal(sample);
  return `${us(sample.node)} / ${us(sample.postgres)} / ${us(sample.broker)} = ${us(total)}`;
}
