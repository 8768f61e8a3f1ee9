/**
 * The soak's verdict: did the retained tables and the processes' memory stop
 * growing, and did retention keep up?
 */
import { formatRate, printTable } from "../support.ts";
import { RETAINED, type TableSample } from "./database-sampler.ts";
import { highWater, type Point } from "./flatness.ts";
import { mb, pct, type Recorded, type RunRecord } from "./record.ts";

/** How much the last third's peak may exceed the middle third's and still count as flat. */
const TOLERANCE = 0.1;

/**
 * Not growing over the last third: its peak at most 10 % above the middle
 * third's (bench/soak/flatness.ts). The tables are judged by their size
 * right after each maintenance run (what retention leaves), the processes
 * by their RSS at each sample. And every maintenance run of the last third
 * must have caught up, which does not depend on the rate at all.
 */
export function printVerdict(record: RunRecord): boolean {
  const end = (record.samples.at(-1) as Recorded).t;
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
  const third = record.samples.filter((sample) => last(sample.t));
  for (const name of RETAINED) {
    const at = (pick: (t: TableSample) => number) =>
      record.afterRuns.flatMap((r) =>
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
  const lastRuns = record.invocations.filter((i) => i.fn === "maintenance" && last(i.endedS));
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
  for (const name of Object.keys(record.samples[0]?.processes ?? {})) {
    const points = record.samples.flatMap((sample) => {
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
