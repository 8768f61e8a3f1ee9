/**
 * A server started for tests or `npm run dev` that dies on its own is
 * reported (so dev can say which and why and stop the rest), and stopping it
 * afterwards still finishes. A deliberate stop is not a death.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
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
