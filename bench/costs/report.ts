/** bench:ledger-costs' tables: one column per measured checkout (and pgbench), per transaction. */
import { printTable } from "../support.ts";
import type { Costs, CpuCosts } from "./counters.ts";

export interface Measured {
  label: string;
  costs: Costs;
  /** One per round. */
  cpu: CpuCosts[];
  /** Transactions per second serialised on one row, one per round. */
  contended: number[];
}

const n = (value: number, digits = 2) =>
  value === 0
    ? "0"
    : value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });

/** The mean of the rounds, then each round: "0.51 (0.50, 0.52)". */
function rounds(values: number[], digits: number): string {
  if (values.length === 0) return "-";
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.length === 1
    ? n(mean, digits)
    : `${n(mean, digits)} (${values.map((v) => n(v, digits)).join(", ")})`;
}

export function printCosts(
  results: Measured[],
  title = "Per transaction (a payment of case (a); one TPC-B-like transaction):",
): void {
  const labels = results.map((r) => r.label);
  const row = (name: string, value: (c: Costs, r: Measured) => string) => [
    name,
    ...results.map((r) => value(r.costs, r)),
  ];
  console.log("");
  console.log(title);
  console.log("");
  printTable(
    ["", ...labels],
    [
      row("round trips (statements sent)", (c) => n(c.roundTrips)),
      row("statements run in the server", (c) => n(c.nestedStatements)),
      row("rows updated", (c) => n(c.rowsUpdated)),
      row("rows locked, not updated (LOCK records)", (c) => n(c.rowLocks)),
      row("row versions written (insert, update, delete)", (c) =>
        n([...c.rowVersions.values()].reduce((t, v) => t + v.inserted + v.updated + v.deleted, 0)),
      ),
      row("  of which HOT updates", (c) => n([...c.rowVersions.values()].reduce((t, v) => t + v.hot, 0))),
      row("index entries written", (c) => n(c.indexEntries)),
      row("WAL records", (c) => n(c.wal.records)),
      row("WAL bytes, records", (c) => n(c.wal.recordBytes, 0)),
      row("WAL full-page images (bytes)", (c) => `${n(c.wal.fullPages)} (${n(c.wal.fullPageBytes, 0)})`),
      row("commits", (c) => n(c.commits)),
      row("WAL flushes (mean ms)", (c) => `${n(c.walFlushes)} (${n(c.walFlushMs)})`),
      row("buffers hit / read", (c) => `${n(c.buffersHit, 1)} / ${n(c.buffersRead, 1)}`),
      row("buffers dirtied", (c) => n(c.buffersDirtied)),
      row("server execution, ms (counted run)", (c) => n(c.serverMs, 3)),
      row("server CPU, ms (all its processes)", (_c, r) =>
        rounds(
          r.cpu.map((c) => c.serverMs),
          3,
        ),
      ),
      row("client CPU, ms", (_c, r) =>
        rounds(
          r.cpu.map((c) => c.clientMs),
          3,
        ),
      ),
      row("wall-clock, ms (one at a time)", (_c, r) =>
        rounds(
          r.cpu.map((c) => c.wallMs),
          3,
        ),
      ),
      row("contended on one row: per second", (_c, r) => rounds(r.contended, 0)),
      row("  so each holds the row (ms)", (_c, r) =>
        rounds(
          r.contended.filter((v) => v > 0).map((v) => 1000 / v),
          2,
        ),
      ),
    ],
  );

  const kinds = [...new Set(results.flatMap((r) => [...r.costs.walByKind.keys()]))].sort();
  console.log("");
  console.log("WAL by record kind, per transaction (records / bytes without full-page images):");
  console.log("");
  printTable(
    ["kind", ...labels],
    kinds.map((kind) => [
      kind,
      ...results.map((r) => {
        const k = r.costs.walByKind.get(kind);
        return k ? `${n(k.records)} / ${n(k.bytes, 0)}` : "-";
      }),
    ]),
  );

  for (const r of results) {
    console.log("");
    console.log(`${r.label}: WAL by relation (first block of each record), per transaction:`);
    console.log("");
    printTable(
      ["relation", "records", "bytes", "full-page bytes"],
      [...r.costs.walByRelation].map(([name, w]) => [
        name,
        n(w.records),
        n(w.bytes, 0),
        n(w.fullPageBytes, 0),
      ]),
    );
    console.log("");
    printTable(
      ["table", "inserted", "updated", "HOT", "deleted"],
      [...r.costs.rowVersions].map(([name, v]) => [
        name,
        n(v.inserted),
        n(v.updated),
        n(v.hot),
        n(v.deleted),
      ]),
    );
    console.log("");
    console.log(`${r.label}: statements, in the order each first ran (times include what they call):`);
    console.log("");
    printTable(
      ["statement", "sent", "per txn", "mean µs", "rows", "WAL B/txn"],
      r.costs.statements
        .filter((s) => s.callsPerTransaction >= 0.01)
        .map((s) => [
          s.query.length > 100 ? `${s.query.slice(0, 97)}...` : s.query,
          s.toplevel ? "yes" : "",
          n(s.callsPerTransaction),
          n(s.meanMs * 1000, 0),
          n(s.rowsPerCall),
          n(s.walBytesPerTransaction, 0),
        ]),
    );
  }
}
