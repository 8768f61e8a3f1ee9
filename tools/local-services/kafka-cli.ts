/**
 * Local dev broker: `node --import tsx tools/local-services/kafka-cli.ts` (Node 22+) prints the
 * `export` line of its client settings (KAFKA_BROKERS, TLS, the SCRAM login) and keeps the broker
 * up until Ctrl-C / SIGTERM. Honors the same env vars as provideKafka().
 */
import { provideKafka } from "./kafka.ts";

const PARENT_CHECK_INTERVAL_MS = 1_000;

const kafka = await provideKafka();
console.log(
  `export ${Object.entries(kafka.env)
    .map(([name, value]) => `${name}='${value.replace(/'/g, "'\\''")}'`)
    .join(" ")}`,
);

// Nothing forwards a SIGKILL of whatever started us; if our parent vanishes we get re-parented
// and would otherwise keep the broker up forever. The timer also keeps the process
// alive, since the broker child is unref'd (so tests can't hang on it).
const parentPid = process.ppid;
const keepAlive = setInterval(() => {
  if (process.ppid !== parentPid) void shutdown("parent exited");
}, PARENT_CHECK_INTERVAL_MS);

let shuttingDown = false;
async function shutdown(reason: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  console.error(`kafka: ${reason}, stopping broker`);
  clearInterval(keepAlive);
  try {
    await kafka.stop();
    process.exitCode = 0;
  } catch (error) {
    console.error("kafka: stop failed", error);
    process.exitCode = 1;
  }
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void shutdown(`${signal} received`));
}
