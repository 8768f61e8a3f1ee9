/** What a soak records as it runs, and how its reports format numbers. */
import type { InvokeOutcome } from "../lambda/processes.ts";
import type { HostStats } from "../lambda/protocol.ts";
import type { DatabaseSample, TableSample } from "./database-sampler.ts";

export interface Sample {
  /** Seconds since the load started. */
  t: number;
  database: DatabaseSample;
  processes: Record<string, HostStats | undefined>;
  /** Commit→Kafka latencies (ms) of the events appended since the previous sample. */
  latencyMs: number[];
}

export interface Recorded extends Sample {
  /** Payments answered AUTHORIZED so far. */
  ok: number;
}

export interface Invocation extends InvokeOutcome {
  fn: "drain" | "maintenance";
  cause: "schedule" | "nudge";
  endedS: number;
  startedMs: number;
}

/** Everything a run recorded, in time order. */
export interface RunRecord {
  samples: readonly Recorded[];
  invocations: readonly Invocation[];
  /** The retained tables right after each maintenance run: the troughs of their sawtooth. */
  afterRuns: readonly { t: number; tables: Record<string, TableSample> }[];
}

export const MB = 1024 * 1024;
export const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
export const count = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : String(n));
export const pct = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)} %`;

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** The samples of the last third of the run: the steady state the verdict and the costs look at. */
export function lastThird(samples: readonly Recorded[]): Recorded[] {
  const from = (samples.at(-1) as Recorded).t * (2 / 3);
  return samples.filter((s) => s.t >= from);
}
