import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface SilentEndpoint {
  endpoint: string;
  /** Every request it took, in order. */
  requests: IncomingMessage[];
  close(): Promise<void>;
}

/** An HTTP endpoint that takes each request and never answers (a stale connection, a stuck local runtime). */
export async function silentEndpoint(): Promise<SilentEndpoint> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req) => {
    requests.push(req);
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
