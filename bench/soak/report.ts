/**
 * The soak's output: a row a minute while it runs, then the verdict over the
 * last third and what one payment cost over that steady third.
 */

import { formatRate } from "../support.ts";
import { printCosts } from "./costs.ts";
import { RETAINED, type TableSample, type WATCHED_TABLES } from "./database-sampler.ts";
import {
  count,
  type Invocation,
  MB,
  mb,
  quantile,
  type Recorded,
  type RunRecord,
  type Sample,
} from "./record.ts";
import { printVerdict } from "./verdict.ts";

export type { Invocation, Sample } from "./record.ts";

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
    const record: RunRecord = {
      samples: this.samples,
      invocations: this.invocations,
      afterRuns: this.afterRuns,
    };
    const flat = printVerdict(record);
    printCosts(record, available);
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
