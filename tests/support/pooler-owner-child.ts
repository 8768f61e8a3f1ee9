/**
 * A process that starts a local PgBouncer in front of POSTGRES_ADMIN_URL and
 * prints "pgbouncer <pid>", then waits to be killed: its PgBouncer must not
 * outlive it.
 */
import { providePooler } from "../../tools/local-services/pgbouncer.ts";

const adminUrl = process.env.POSTGRES_ADMIN_URL;
if (!adminUrl) throw new Error("POSTGRES_ADMIN_URL is required");
const pooler = await providePooler({ adminUrl, source: "local", stop: async () => {} }, { log: () => {} });
process.stdout.write(`pgbouncer ${pooler.pid}\n`);
setInterval(() => undefined, 60_000);
