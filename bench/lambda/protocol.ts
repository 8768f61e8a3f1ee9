/** What a benchmark and its function processes (host.ts) say to each other over the IPC channel. */

/** api: the api handler behind a local HTTP API; drain, maintenance: handlers invoked by the parent; consumer: the sample consumer. */
export type HostRole = "api" | "drain" | "maintenance" | "consumer";

export type ToHost =
  | { type: "invoke"; id: number; timeoutMs: number; event?: unknown }
  | { type: "stats" }
  | { type: "stop" };

export interface HostStats {
  rssBytes: number;
  heapUsedBytes: number;
  /** User + system CPU time of the process since it started, µs. */
  cpuUs: number;
  /** Handler calls (api), invocations (drain, maintenance) or messages (consumer) since the last stats. */
  calls: number;
  /** Wall time of each of those calls, ms (api, drain, maintenance). */
  callMs: number[];
}

export type FromHost =
  | { type: "ready"; url?: string }
  | { type: "done"; id: number; ms: number; result?: unknown; error?: string }
  | { type: "stats"; stats: HostStats };
