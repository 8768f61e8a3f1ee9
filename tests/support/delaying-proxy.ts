import { connect, createServer, type Socket } from "node:net";
import { freePort } from "../../tools/local-services/ports.ts";

export interface DelayingProxy {
  /** `url` with its host and port replaced by the proxy's. */
  url: string;
  /**
   * The server's answer to the next statement whose text contains `marker` is
   * held back `ms` (bytes in order, nothing lost): the server has done the
   * work, the client hears of it late, as over a slow network.
   */
  delayAnswerTo(marker: string, ms: number): void;
  close(): Promise<void>;
}

/** A TCP proxy in front of a Postgres URL that can hold back the server's answers. */
export async function delayingProxy(url: string): Promise<DelayingProxy> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  let armed: { marker: Buffer; ms: number } | undefined;

  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let holdUntil = 0;
    let held: Buffer[] = [];
    client.on("data", (chunk) => {
      if (armed && chunk.includes(armed.marker)) {
        holdUntil = -armed.ms;
        armed = undefined;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (holdUntil < 0) {
        const ms = -holdUntil;
        holdUntil = Date.now() + ms;
        setTimeout(() => {
          for (const part of held) client.write(part);
          held = [];
          holdUntil = 0;
        }, ms);
      }
      if (holdUntil > 0) held.push(chunk);
      else client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const proxied = new URL(url);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(port);
  return {
    url: proxied.toString(),
    delayAnswerTo(marker, ms) {
      armed = { marker: Buffer.from(marker), ms };
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
