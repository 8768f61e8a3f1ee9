/**
 * Runs `npm run dev`'s live summary: a baseline sample at once, then one
 * sample every interval, each counting the payments since the previous one.
 * Samples never overlap (the next is scheduled when one ends), and stop()
 * returns once the one in flight has finished, leaving no timer behind.
 */
import { type PrintedSummary, summaryToPrint } from "./format-summary.ts";
import type { SummarySample } from "./summary-sample.ts";

export interface SummarySamplerOptions {
  intervalMs: number;
  /** Reads a sample whose payments are those since `since` (none when null); readSummarySample on a pool. */
  read: (since: Date | null) => Promise<SummarySample>;
  print: (line: string) => void;
}

export interface SummarySampler {
  stop(): Promise<void>;
}

export function startSummarySampler(options: SummarySamplerOptions): SummarySampler {
  let since: Date | null = null;
  let last: PrintedSummary | undefined;
  let lastError: string | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const sample = async () => {
    try {
      const current = await options.read(since);
      const baseline = since === null;
      since = current.at;
      lastError = undefined;
      if (baseline) return;
      const next = summaryToPrint(current, last);
      if (next) {
        options.print(next.line);
        last = next.printed;
      }
    } catch (error) {
      // Said once, not every interval; the next good sample is printed whatever it says.
      const message = error instanceof Error ? error.message : String(error);
      if (message !== lastError) options.print(`unavailable: ${message}`);
      lastError = message;
      last = undefined;
    }
  };

  let inFlight: Promise<void>;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = sample().finally(schedule);
    }, options.intervalMs);
    // Never the reason a process stays up.
    timer.unref();
  };
  inFlight = sample().finally(schedule);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
