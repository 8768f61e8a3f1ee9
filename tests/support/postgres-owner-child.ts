/**
 * A process that owns an embedded Postgres and stops it in its own SIGINT
 * handler, after other work, as `npm run dev` does. `--owns-signals` passes
 * ownsSignals. Prints "ready" once started, "stopped postgres" when its own
 * shutdown finished.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { providePostgres } from "../../tools/local-services/postgres.ts";

delete process.env.DATABASE_URL;
const server = await providePostgres({ log: () => {}, ownsSignals: process.argv.includes("--owns-signals") });
process.on("SIGINT", () => {
  void (async () => {
    console.log("stopping");
    // What dev stops before Postgres: the web client, offline, Kafka.
    await sleep(300);
    await server.stop();
    console.log("stopped postgres");
    process.exit(0);
  })();
});
console.log(`ready ${server.source}`);
