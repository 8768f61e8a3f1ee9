import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

/**
 * Ports are picked below the kernel's ephemeral range. A port the kernel
 * hands out for listen(0) is an ephemeral one, and between our probe closing
 * it and a service binding it (a JVM takes seconds) the kernel may give it to
 * any outgoing connection as its source port: the service then dies with
 * "Address already in use". Below the range only deliberate listeners compete.
 */
const LOWEST_PORT = 10_000;
const ATTEMPTS = 200;

function ephemeralLow(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const value = Number(low);
    if (Number.isInteger(value) && value > LOWEST_PORT + 1000) return value;
  } catch {
    // Not Linux: 32768 is below macOS' and Windows' ranges (49152 and up) as well.
  }
  return 32_768;
}

const HIGHEST_PORT = ephemeralLow() - 1;

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error("could not allocate a free port");
  return port;
}

/**
 * `count` distinct ports that were free a moment ago on `host`. All probes are
 * held open until every port is known, so the same port is never handed out twice.
 */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(await listenOnSomePort(server, host));
    }
    return ports;
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

async function listenOnSomePort(server: Server, host: string): Promise<number> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (HIGHEST_PORT - LOWEST_PORT + 1));
    if (await listenOn(server, port, host)) return port;
  }
  throw new Error(
    `no free port on ${host} between ${LOWEST_PORT} and ${HIGHEST_PORT} after ${ATTEMPTS} tries`,
  );
}

/** True once listening on `port`; false when it is taken (or not ours to take). */
function listenOn(server: Server, port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (error.code === "EADDRINUSE" || error.code === "EACCES") resolve(false);
      else reject(error);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve(true);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    if (!server.listening) return done();
    server.close(() => done());
  });
}
