import type { Costs, CpuCosts } from "./counters.ts";

/** One thing bench:ledger-costs measures: a checkout's ledger, pgbench, or the ledger's floor. */
export interface Subject {
  label: string;
  /** The counted run (nested statements tracked): once. */
  counts(): Promise<Costs>;
  /** One run timed by CPU: per round. */
  cpu(): Promise<CpuCosts | undefined>;
  /** Transactions per second, all serialised on one row: per round. */
  contended(): Promise<number>;
  close(): Promise<void>;
}
