import { execFileSync } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import { fundAccount, openTreasury } from "../lib/payments/funding.ts";
import type { Account } from "../lib/payments/model.ts";
import type { PaymentService } from "../lib/payments/service.ts";

/** Latency samples in nanoseconds, summarised the way every benchmark here reports them. */
export class Latencies {
  private samples: number[] = [];

  record(startNs: bigint): void {
    this.samples.push(Number(process.hrtime.bigint() - startNs));
  }

  get count(): number {
    return this.samples.length;
  }

  /** The q-th quantile (0..1) in nanoseconds, nearest-rank. */
  quantile(q: number): number {
    if (this.samples.length === 0) return Number.NaN;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[index] as number;
  }
}

export function formatMs(ns: number): string {
  return `${(ns / 1e6).toFixed(2)} ms`;
}

export function formatUs(ns: number): string {
  return `${(ns / 1e3).toFixed(1)} µs`;
}

export function formatRate(perSecond: number): string {
  return perSecond >= 100 ? Math.round(perSecond).toLocaleString("en-US") : perSecond.toFixed(1);
}

/** One line naming the machine, printed with every result so numbers are never quoted without it. */
export function machineLine(extra: string[] = []): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? "unknown CPU";
  const parts = [
    `${model}`,
    `${cpu.length} cores`,
    `${Math.round(totalmem() / 2 ** 30)} GiB`,
    `Node ${process.version}`,
    // On a shared machine the load says more about a figure than the CPU model does.
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  ];
  return `machine: ${[...parts, ...extra].join(", ")}`;
}

export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(row));
}

/** Runs `workers` loops calling `task` until `durationMs` has passed; returns calls/s and latencies. */
export async function runFor(
  workers: number,
  durationMs: number,
  task: (worker: number, i: number) => Promise<void>,
): Promise<{ perSecond: number; latencies: Latencies; errors: number }> {
  const latencies = new Latencies();
  let errors = 0;
  let calls = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (Date.now() < deadline) {
        const t0 = process.hrtime.bigint();
        try {
          await task(worker, calls++);
          latencies.record(t0);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { perSecond: latencies.count / seconds, latencies, errors };
}

export function tryExec(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return undefined;
  }
}

export function argValue(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const raw =
    index >= 0 ? process.argv[index + 1] : process.env[`BENCH_${name.toUpperCase().replaceAll("-", "_")}`];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

/** A comma-separated list of positive numbers, e.g. `--drains 1,2,4`. */
export function listArg(name: string, fallback: number[]): number[] {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const values = (process.argv[index + 1] ?? "").split(",").map(Number);
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new Error(`--${name} must be a comma-separated list of positive integers`);
  }
  return values;
}

/** `count` EUR accounts, each funded with 10,000,000.00 from one system account, opened by `concurrency` workers. */
export async function openFundedAccounts(
  service: PaymentService,
  count: number,
  concurrency = 1,
): Promise<Account[]> {
  const treasury = await openTreasury(service, "EUR");
  const opened: Account[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const account = await service.createAccount({ owner: `owner${i}`, currency: "EUR", system: false });
        await fundAccount(service, { treasury, account, amountCents: 1_000_000_000n });
        opened.push(account);
      }
    }),
  );
  return opened;
}
