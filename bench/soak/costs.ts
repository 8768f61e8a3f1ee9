/** What one payment cost over the soak's steady last third: Postgres, WAL, and each function. */
import { formatRate, printTable } from "../support.ts";
import { type Component, componentOf, type DatabaseSample } from "./database-sampler.ts";
import { lastThird, quantile, type Recorded, type RunRecord } from "./record.ts";

export function printCosts(
  record: RunRecord,
  available: { statements: boolean; postgresCpu: boolean },
): void {
  const third = lastThird(record.samples);
  const first = third[0] as Recorded;
  const last = third.at(-1) as Recorded;
  const payments = last.ok - first.ok;
  if (payments <= 0) return;
  const a = first.database.counters;
  const b = last.database.counters;
  const per = (x: number, digits = 1) => (x / payments).toFixed(digits);
  const cpuMs = (name: string) =>
    ((last.processes[name]?.cpuUs ?? 0) - (first.processes[name]?.cpuUs ?? 0)) / 1000;
  const after = record.samples.filter((s) => s.t > first.t && s.t <= last.t);
  const apiCalls = after.reduce((n, s) => n + (s.processes.api?.calls ?? 0), 0);
  const apiMs = after.flatMap((s) => s.processes.api?.callMs ?? []);
  const inWindow = record.invocations.filter((i) => i.endedS > first.t && i.endedS <= last.t);
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
  const top = topStatements(a, b, payments);
  console.log(
    `\nper payment over the steady third (${formatRate(payments)} payments, ${((last.t - first.t) / 60).toFixed(1)} min, retention deleting as fast as payments arrive):`,
  );
  printTable(["cost", "per payment", "how measured"], rows);
  if (top.length > 0) {
    console.log("\nstatements per payment (pg_stat_statements, top level, most frequent first):");
    printTable(["statement", "by", "calls", "exec ms"], top);
  }
}

function topStatements(
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
