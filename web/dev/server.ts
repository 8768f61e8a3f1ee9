/**
 * The page's own origin during `npm run dev` (and the browser test): serves
 * the freshly bundled client, plus two dev-only endpoints that never exist in
 * a deployed stage:
 *
 *   GET /dev/session?owner=alice   a token for a demo owner (local development secret)
 *   GET /dev/events?token=<JWT>    Server-Sent Events: what the sample consumer reads from Kafka,
 *                                  until the token expires
 *
 * It answers only requests whose Host is an allowed name (./allowed-host.ts):
 * a page on another name, even one resolving to this machine, gets 403.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import type { Principal } from "../../lib/auth/principal.ts";
import { bundleWebClient, type WebAsset } from "../bundle.ts";
import { BLOCKED_HOST_MESSAGE, isAllowedHost } from "./allowed-host.ts";
import type { EventFeed } from "./event-feed.ts";
import type { DevSessions } from "./sessions.ts";

const HEARTBEAT_MS = 15_000;
// setTimeout's ceiling (about 24.8 days); a later expiry is checked again then.
const MAX_TIMER_MS = 2_147_483_647;

export interface WebDevServerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** The host name in the printed URL and so in the page's origin (CORS must allow exactly it). */
  publicHost?: string;
  apiUrl: string;
  /** Host names (no port) it answers to: DEV_ALLOWED_HOSTS plus the loopback names (lib/config.ts). */
  allowedHosts: readonly string[];
  sessions: DevSessions;
  verifier: TokenVerifier;
  events?: EventFeed;
}

export interface WebDevServer {
  /** The page, e.g. http://localhost:5173/ */
  url: string;
  /** What the browser sends as Origin, e.g. http://localhost:5173 */
  origin: string;
  stop(): Promise<void>;
}

export async function startWebDevServer(options: WebDevServerOptions): Promise<WebDevServer> {
  let assets = await bundleWebClient({ apiUrl: options.apiUrl, devServer: true });
  const streams = new Set<ServerResponse>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // First of all: a request from a DNS-rebound page reaches nothing, not even a 404.
    if (!isAllowedHost(req.headers.host, options.allowedHosts)) {
      return send(res, 403, "text/plain", BLOCKED_HOST_MESSAGE);
    }
    const url = new URL(req.url ?? "/", "http://dev.invalid");
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only");
    if (url.pathname === "/dev/session") return session(res, url);
    if (url.pathname === "/dev/events") return events(req, res, url);
    const name = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
    // A reload picks up edits to web/src without restarting `npm run dev`.
    if (name === "index.html") assets = await bundleWebClient({ apiUrl: options.apiUrl, devServer: true });
    const asset: WebAsset | undefined = assets.get(name);
    if (!asset) return send(res, 404, "text/plain", "not found");
    return send(res, 200, asset.contentType, asset.body);
  };

  const session = async (res: ServerResponse, url: URL) => {
    const unavailable = options.sessions.unavailableReason();
    if (unavailable) return send(res, 409, "text/plain", unavailable);
    const owner = url.searchParams.get("owner") ?? "";
    const issued = await options.sessions.issue(owner);
    if (!issued) return send(res, 404, "text/plain", `"${owner}" is not a demo owner`);
    return send(res, 200, "application/json", JSON.stringify(issued));
  };

  const events = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (!options.events) return send(res, 404, "text/plain", "no event feed in this run");
    let principal: Principal;
    try {
      principal = await options.verifier.verify(url.searchParams.get("token") ?? "");
    } catch (error) {
      return send(res, 401, "text/plain", error instanceof Error ? error.message : "invalid token");
    }
    // The verifier allows clock skew past exp; a stream does not start on a token already spent.
    if (principal.validUntilMs <= Date.now()) return send(res, 401, "text/plain", "token has expired");
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    const write = (type: string, data: unknown) => {
      if (!res.writableEnded) res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unsubscribe = options.events.subscribe(principal, {
      event: (event) => write("payment", event),
      outbox: (status) => write("outbox", status),
    });
    const heartbeat = setInterval(() => {
      if (!res.writableEnded) res.write(": keep-alive\n\n");
    }, HEARTBEAT_MS);
    let expiry: NodeJS.Timeout | undefined;
    const finish = () => {
      clearInterval(heartbeat);
      clearTimeout(expiry);
      unsubscribe();
      streams.delete(res);
    };
    // The stream is as good as its token: when it expires, say so and end it.
    const endWhenExpired = () => {
      const left = principal.validUntilMs - Date.now();
      if (left > 0) {
        expiry = setTimeout(endWhenExpired, Math.min(left, MAX_TIMER_MS));
        return;
      }
      finish();
      write("expired", { reason: "the token has expired: sign in again" });
      res.end();
    };
    streams.add(res);
    req.once("close", finish);
    endWhenExpired();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        send(res, 500, "text/plain", error instanceof Error ? error.message : String(error));
      else res.end();
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${options.publicHost ?? host}:${port}`;
  return {
    url: `${origin}/`,
    origin,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const stream of streams) stream.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Uint8Array): void {
  res.writeHead(status, {
    "content-type": contentType,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}
