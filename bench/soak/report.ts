/**
 * The soak's output: a row a minute while it runs, then the verdict over the
 * last third and what one payment cost over that steady third.
 */

import type { InvokeOutcome } from "../lambda/processes.ts";
import type { HostStats } from "../lambda/protocol.ts";
import { formatRate, printTable } from "../support.ts";
import {
  type Component,
  componentOf,
  type DatabaseSample,
  RETAINED,
  type TableSample,
  type WATCHED_TABLES,
} from "./database-sampler.ts";
import { highWater, type Point } from "./flatness.ts";

export interface Sample {
  /** Seconds since the load started. */
  t: number;
  database: DatabaseSample;
  processes: Record<string, HostStats | undefined>;
  /** Commit→Kafka latencies (ms) of the events appended since the previous sample. */
  latencyMs: number[];
}

export interface Invocation extends InvokeOutcome {
  fn: "drain" | "maintenance";
  cause: "schedule" | "nudge";
  endedS: number;
  startedMs: number;
}

interface Recorded extends Sample {
  /** Payments answered AUTHORIZED so far. */
  ok: number;
}

const MB = 1024 * 1024;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const count = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : String(n));
/** How much a series may grow over the last third and still count as flat. */
const TOLERANCE = 0.1;
const pct = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)} %`;

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

const MINUTE_HEADERS = [
  "min",
  "payments/s",
  "commit→Kafka p50 / p99",
  "pending",
  "outbox",
  "idempotency_keys",
  "inbox",
  "payments",
  "ledger_entries",
  "dead tuples o / k / i",
  "WAL / payment",
  "RSS MB (api, drains, maint., consumer)",
];

export class SoakReport {
  private readonly startedMs = performance.now();
  private t0Ms = this.startedMs;
  private readonly samples: Recorded[] = [];
  private readonly outcomes = new Map<string, number>();
  private readonly invocations: Invocation[] = [];
  private dropped = 0;
  private ok = 0;
  private printedMinutes = 0;
  private readonly rows: string[][] = [];
  /** The retained tables right after each maintenance run: the troughs of their sawtooth. */
  private readonly afterRuns: { t: number; tables: Record<string, TableSample> }[] = [];

  constructor(private readonly options: { runS: number; windowS: number; sampleS: number }) {}

  /** Payments answered AUTHORIZED so far. */
  get authorized(): number {
    return this.ok;
  }

  seconds(): number {
    return (performance.now() - this.t0Ms) / 1000;
  }

  answered(outcome: string): void {
    if (outcome === "ok") this.ok += 1;
    else this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  start(baseline: Sample): void {
    this.t0Ms = performance.now();
    this.samples.push({ ...baseline, t: 0, ok: 0 });
    console.log(`| ${MINUTE_HEADERS.join(" | ")} |`);
    console.log(`|${MINUTE_HEADERS.map(() => "---").join("|")}|`);
  }

  add(sample: Sample, invocations: Invocation[], dropped: number): void {
    this.samples.push({ ...sample, ok: this.ok });
    this.invocations.push(...invocations);
    this.dropped = dropped;
    while (sample.t >= 60 * (this.printedMinutes + 1)) this.printMinute(this.printedMinutes + 1, sample.t);
  }

  /** The retained tables' sizes right after a maintenance run ended. */
  afterMaintenance(t: number, tables: Record<string, TableSample>): void {
    this.afterRuns.push({ t, tables });
  }

  /** Prints what is left, the verdict and the costs; true when everything was flat. */
  finish(available: { statements: boolean; postgresCpu: boolean }): boolean {
    const last = this.samples.at(-1) as Recorded;
    if (last.t > 60 * this.printedMinutes + this.options.sampleS)
      this.printMinute(this.printedMinutes + 1, last.t);
    console.log("");
    const flat = this.verdict();
    this.costs(available);
    this.totals();
    return flat;
  }

  private sampleAt(t: number): Recorded {
    let found = this.samples[0] as Recorded;
    for (const s of this.samples) if (s.t <= t + 0.5) found = s;
    return found;
  }

  private printMinute(minute: number, endT: number): void {
    const end = this.sampleAt(Math.min(endT, 60 * minute + this.options.sampleS));
    const begin = this.sampleAt(60 * (minute - 1));
    this.printedMinutes = minute;
    const seconds = Math.max(end.t - begin.t, 1e-9);
    const payments = end.ok - begin.ok;
    const latencies = this.samples.filter((s) => s.t > begin.t && s.t <= end.t).flatMap((s) => s.latencyMs);
    const table = (name: (typeof WATCHED_TABLES)[number]) => {
      const t = end.database.tables[name];
      return `${count(t.rows)} · ${mb(t.bytes)}`;
    };
    const dead = RETAINED.map((name) => count(end.database.tables[name].deadTuples)).join(" / ");
    const wal =
      payments > 0 ? (end.database.counters.walBytes - begin.database.counters.walBytes) / payments : 0;
    const rss = Object.entries(end.processes)
      .map(([, stats]) => (stats ? (stats.rssBytes / MB).toFixed(0) : "–"))
      .join(" ");
    const row = [
      String(minute),
      formatRate(payments / seconds),
      latencies.length > 0
        ? `${quantile(latencies, 0.5).toFixed(0)} / ${quantile(latencies, 0.99).toFixed(0)} ms`
        : "–",
      String(end.database.pending),
      table("outbox"),
      table("idempotency_keys"),
      table("inbox"),
      table("payments"),
      table("ledger_entries"),
      dead,
      `${(wal / 1024).toFixed(1)} kB`,
      rss,
    ];
    this.rows.push(row);
    console.log(`| ${row.join(" | ")} |`);
  }

  private lastThird(): Recorded[] {
    const from = (this.samples.at(-1) as Recorded).t * (2 / 3);
    return this.samples.filter((s) => s.t >= from);
  }

  /**
   * Not growing over the last third: its peak at most 10 % above the middle
   * third's (bench/soak/flatness.ts). The tables are judged by their size
   * right after each maintenance run (what retention leaves), the processes
   * by their RSS at each sample. And every maintenance run of the last third
   * must have caught up, which does not depend on the rate at all.
   */
  private verdict(): boolean {
    const end = (this.samples.at(-1) as Recorded).t;
    const middle = (t: number) => t >= end / 3 && t < (2 * end) / 3;
    const last = (t: number) => t >= (2 * end) / 3;
    const rows: string[][] = [];
    let flat = true;
    const judge = (subject: string, points: Point[], unit: (v: number) => string) => {
      const result = highWater(
        points.filter((p) => middle(p.t)),
        points.filter((p) => last(p.t)),
        TOLERANCE,
      );
      flat &&= result.flat;
      rows.push([
        subject,
        Number.isNaN(result.before) ? "–" : unit(result.before),
        Number.isNaN(result.after) ? "–" : unit(result.after),
        Number.isNaN(result.growth) ? "–" : pct(result.growth),
        result.flat ? "flat" : Number.isNaN(result.growth) ? "**too few points**" : "**growing**",
      ]);
    };
    const third = this.samples.filter((sample) => last(sample.t));
    for (const name of RETAINED) {
      const at = (pick: (t: TableSample) => number) =>
        this.afterRuns.flatMap((r) =>
          r.tables[name] ? [{ t: r.t, v: pick(r.tables[name] as TableSample) }] : [],
        );
      judge(
        `${name} rows after maintenance`,
        at((t) => t.rows),
        (v) => formatRate(v),
      );
      // A heap stops growing once vacuum has freed space for new rows to reuse.
      const vacuums = third[0]?.database.tables[name].vacuums ?? 0;
      judge(
        `${name} bytes after maintenance (vacuumed ${vacuums}× by then)`,
        at((t) => t.bytes),
        mb,
      );
    }
    // Independent of the rate: every run in the third deleted all that was due.
    const lastRuns = this.invocations.filter((i) => i.fn === "maintenance" && last(i.endedS));
    const caughtUp = lastRuns.filter(
      (i) => !i.error && (i.result as { stoppedBy?: string } | undefined)?.stoppedBy === "caught-up",
    ).length;
    const retentionOk = lastRuns.length >= 2 && caughtUp === lastRuns.length;
    flat &&= retentionOk;
    rows.push([
      "maintenance runs of the last third that caught up",
      "",
      `${caughtUp} of ${lastRuns.length}`,
      "",
      retentionOk ? "kept up" : "**behind**",
    ]);
    for (const name of Object.keys(this.samples[0]?.processes ?? {})) {
      const points = this.samples.flatMap((sample) => {
        const stats = sample.processes[name];
        return stats ? [{ t: sample.t, v: stats.rssBytes }] : [];
      });
      judge(`${name} RSS`, points, mb);
    }
    console.log(
      `verdict: ${flat ? "FLAT" : "NOT FLAT"} (flat: the last third's peak at most ${100 * TOLERANCE} % above the middle third's; ` +
        `middle ${(end / 180).toFixed(1)}–${((2 * end) / 180).toFixed(1)} min, last ${((2 * end) / 180).toFixed(1)}–${(end / 60).toFixed(1)} min)`,
    );
    printTable(["subject", "peak, middle third", "peak, last third", "growth", "verdict"], rows);
    return flat;
  }

  private costs(available: { statements: boolean; postgresCpu: boolean }): void {
    const third = this.lastThird();
    const first = third[0] as Recorded;
    const last = third.at(-1) as Recorded;
    const payments = last.ok - first.ok;
    if (payments <= 0) return;
    const a = first.database.counters;
    const b = last.database.counters;
    const per = (x: number, digits = 1) => (x / payments).toFixed(digits);
    const cpuMs = (name: string) =>
      ((last.processes[name]?.cpuUs ?? 0) - (first.processes[name]?.cpuUs ?? 0)) / 1000;
    const after = this.samples.filter((s) => s.t > first.t && s.t <= last.t);
    const apiCalls = after.reduce((n, s) => n + (s.processes.api?.calls ?? 0), 0);
    const apiMs = after.flatMap((s) => s.processes.api?.callMs ?? []);
    const inWindow = this.invocations.filter((i) => i.endedS > first.t && i.endedS <= last.t);
    const drainRuns = inWindow.filter((i) => i.fn === "drain");
    const published = drainRuns.reduce(
      (n, i) => n + Number((i.result as { published?: number })?.published ?? 0),
      0,
    );
    const drainWallMs = drainRuns.reduce((n, i) => n + i.ms, 0);
    const drainNames = Object.keys(last.processes).filter((n) => n.startsWith("drain"));
    const drainCpuMs = drainNames.reduce((n, name) => n + cpuMs(name), 0);
    const consumed = after.reduce((n, s) => n + (s.processes.consumer?.calls ?? 0), 0);
    const versions = Object.entries(b.rowVersions)
      .map(([table, n]) => [table, n - (a.rowVersions[table] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort((x, y) => y[1] - x[1]);
    const totalVersions = versions.reduce((n, [, v]) => n + v, 0);

    const rows: string[][] = [
      [
        "WAL bytes (pg_current_wal_lsn)",
        per(b.walBytes - a.walBytes, 0),
        "every writer, autovacuum and checkpoints included",
      ],
      [
        "WAL records / full-page images",
        `${per(b.walRecords - a.walRecords)} / ${per(b.walFullPages - a.walFullPages, 2)}`,
        "pg_stat_wal",
      ],
      [
        "row versions written",
        per(totalVersions),
        versions.map(([table, n]) => `${table} ${per(n, 2)}`).join(", "),
      ],
    ];
    if (available.statements && a.statements && b.statements) {
      const sa = a.statements;
      const sb = b.statements;
      const components = Object.keys(sb) as Component[];
      const calls = components.reduce((n, c) => n + sb[c].calls - sa[c].calls, 0);
      const execMs = components.reduce((n, c) => n + sb[c].execMs - sa[c].execMs, 0);
      rows.push(
        [
          "statements (top level)",
          per(calls, 2),
          components
            .filter((c) => sb[c].calls - sa[c].calls > 0)
            .map((c) => `${c} ${per(sb[c].calls - sa[c].calls, 2)}`)
            .join(", "),
        ],
        [
          "statement execution time",
          `${per(execMs, 3)} ms`,
          "pg_stat_statements total_exec_time (wall, in the server)",
        ],
      );
    }
    if (available.postgresCpu && a.postgresCpuMs !== undefined && b.postgresCpuMs !== undefined) {
      rows.push([
        "Postgres CPU time",
        `${per(b.postgresCpuMs - a.postgresCpuMs, 3)} ms`,
        "all server processes, /proc",
      ]);
    }
    rows.push(
      [
        "api handler time (Lambda duration)",
        `${(apiMs.reduce((s, x) => s + x, 0) / Math.max(apiMs.length, 1)).toFixed(2)} ms`,
        `mean per call; p50 ${quantile(apiMs, 0.5).toFixed(1)} ms, p99 ${quantile(apiMs, 0.99).toFixed(1)} ms, ${formatRate(apiCalls)} calls`,
      ],
      [
        "api CPU time",
        `${(cpuMs("api") / Math.max(apiCalls, 1)).toFixed(3)} ms`,
        "per call, the process's (its HTTP server included)",
      ],
      [
        "drain time per event",
        published > 0 ? `${(drainWallMs / published).toFixed(3)} ms` : "–",
        `invocations' wall time / events published (${formatRate(published)} in ${drainRuns.length} invocations: ` +
          `${drainRuns.filter((i) => i.cause === "nudge").length} nudged, ${drainRuns.filter((i) => i.cause === "schedule").length} scheduled)`,
      ],
      [
        "drain CPU time per event",
        published > 0 ? `${(drainCpuMs / published).toFixed(3)} ms` : "–",
        `${drainNames.length} processes`,
      ],
      [
        "drain invocations per 1,000 payments",
        ((1000 * drainRuns.length) / payments).toFixed(2),
        "the nudge's extra invocations, with the schedule's",
      ],
      ["maintenance CPU time", `${per(cpuMs("maintenance"), 3)} ms`, "retention's deletes, per payment"],
      [
        "consumer CPU time per event",
        consumed > 0 ? `${(cpuMs("consumer") / consumed).toFixed(3)} ms` : "–",
        "the sample consumer, inbox included",
      ],
    );
    const top = this.topStatements(a, b, payments);
    console.log(
      `\nper payment over the steady third (${formatRate(payments)} payments, ${((last.t - first.t) / 60).toFixed(1)} min, retention deleting as fast as payments arrive):`,
    );
    printTable(["cost", "per payment", "how measured"], rows);
    if (top.length > 0) {
      console.log("\nstatements per payment (pg_stat_statements, top level, most frequent first):");
      printTable(["statement", "by", "calls", "exec ms"], top);
    }
  }

  private topStatements(
    a: DatabaseSample["counters"],
    b: DatabaseSample["counters"],
    payments: number,
  ): string[][] {
    if (!a.byStatement || !b.byStatement) return [];
    const before = a.byStatement;
    return [...b.byStatement]
      .map(([id, s]) => ({
        text: s.text.replace(/\s+/g, " ").trim(),
        calls: s.calls - (before.get(id)?.calls ?? 0),
        execMs: s.execMs - (before.get(id)?.execMs ?? 0),
      }))
      .filter((s) => s.calls > 0)
      .sort((x, y) => y.calls - x.calls)
      .slice(0, 12)
      .map((s) => [
        s.text.length > 90 ? `${s.text.slice(0, 87)}…` : s.text,
        componentOf(s.text),
        (s.calls / payments).toFixed(3),
        (s.execMs / payments).toFixed(3),
      ]);
  }

  private totals(): void {
    const last = this.samples.at(-1) as Recorded;
    const runs = (fn: Invocation["fn"]) => {
      const byStop = new Map<string, number>();
      for (const i of this.invocations.filter((x) => x.fn === fn)) {
        const key = i.error ? "error" : String((i.result as { stoppedBy?: string })?.stoppedBy ?? "?");
        byStop.set(key, (byStop.get(key) ?? 0) + 1);
      }
      return [...byStop].map(([k, n]) => `${k} ${n}`).join(", ") || "none";
    };
    const lags = this.invocations
      .filter((i) => i.fn === "maintenance" && !i.error)
      .map((i) =>
        Math.max(...Object.values((i.result as { lagMs?: Record<string, number> })?.lagMs ?? { none: 0 })),
      );
    const errors = [...this.outcomes].map(([k, n]) => `${n} ${k}`).join("; ") || "none";
    console.log(
      `\n${formatRate(last.ok)} payments authorized in ${(last.t / 60).toFixed(1)} min (${formatRate(last.ok / last.t)}/s); other answers: ${errors}`,
    );
    console.log(`drain runs: ${runs("drain")}; invocations dropped (every drain busy): ${this.dropped}`);
    console.log(
      `maintenance runs: ${runs("maintenance")}; largest retention lag after a run: ${lags.length > 0 ? `${(Math.max(...lags) / 1000).toFixed(1)} s` : "–"} (window ${this.options.windowS} s)`,
    );
    // How fast retention deletes while it works: what bounds the rate it can keep up with.
    const maintenance = this.invocations.filter((i) => i.fn === "maintenance" && !i.error);
    const deleted = maintenance.reduce(
      (n, i) =>
        n +
        Object.values((i.result as { deleted?: Record<string, number> })?.deleted ?? {}).reduce(
          (a, b) => a + b,
          0,
        ),
      0,
    );
    const busyMs = maintenance.reduce((n, i) => n + i.ms, 0);
    if (deleted > 0) {
      console.log(
        `retention deleted ${formatRate(deleted)} rows in ${(busyMs / 1000).toFixed(1)} s of runs: ${formatRate((deleted / busyMs) * 1000)} rows/s while running`,
      );
    }
  }
}
