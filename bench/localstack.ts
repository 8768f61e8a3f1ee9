/**
 * What LocalStack host mode costs: installing it (once per machine), starting it (every run) and
 * deploying the local stage into it (serverless deploy + migrate), with Postgres and Kafka from
 * this machine's providers.
 *
 *   npm run bench:localstack -- [--fresh-install]
 *
 * --fresh-install deletes .cache/localstack/venv first, so the install column is a clean
 * install from PyPI; otherwise it is the check that finds the install up to date.
 * The load average is printed with the result: on a shared machine it dominates these numbers.
 */
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { prefixed, provideKafka } from "../tools/local-services/kafka.ts";
import { PROJECT_ROOT, provideLocalStack } from "../tools/local-services/localstack.ts";
import { providePostgres } from "../tools/local-services/postgres.ts";
import { machineLine, printTable } from "./support.ts";

const execFileAsync = promisify(execFile);
const fresh = process.argv.includes("--fresh-install");
const seconds = (start: number) => `${((performance.now() - start) / 1000).toFixed(1)} s`;

if (fresh) await rm(join(PROJECT_ROOT, ".cache", "localstack", "venv"), { recursive: true, force: true });
const log = (line: string) => console.error(line);
const [postgres, kafka] = await Promise.all([providePostgres({ log }), provideKafka({ log })]);
const rows: string[][] = [];
const load = loadavg()[0]?.toFixed(1);
try {
  let mark = performance.now();
  // provideLocalStack installs (or checks) and starts; time the two apart.
  const installStart = performance.now();
  let installed = "";
  const localstack = await provideLocalStack({
    log: (line) => {
      log(line);
      if (line.includes("host mode on")) installed = line;
    },
  });
  const total = (performance.now() - installStart) / 1000;
  const match = /install check ([\d.]+) s, started in ([\d.]+) s/.exec(installed);
  rows.push([fresh ? "install (clean, from PyPI)" : "install check", `${match?.[1] ?? "?"} s`]);
  rows.push(["start (until init scripts done)", `${match?.[2] ?? "?"} s`]);
  try {
    mark = performance.now();
    await execFileAsync("sh", ["localstack/deploy.sh", "local"], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        LOCALSTACK_ENDPOINT: localstack.endpoint,
        LOCALSTACK_DATABASE_URL: postgres.adminUrl,
        ...prefixed("LOCALSTACK_", kafka.env),
        ESBUILD_WORK_FOLDER: `.esbuild/bench-localstack-${process.pid}`,
      },
      maxBuffer: 32 * 1024 * 1024,
    });
    rows.push(["deploy local stage (package, CloudFormation, migrate)", seconds(mark)]);
  } finally {
    mark = performance.now();
    await localstack.stop();
    rows.push(["stop", seconds(mark)]);
  }
  rows.push(["install + start", `${total.toFixed(1)} s`]);
} finally {
  await Promise.all([postgres.stop(), kafka.stop()]);
}
printTable(["LocalStack host mode", "time"], rows);
console.log(machineLine([`load average ${load} at start`]));
