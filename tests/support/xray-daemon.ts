import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";

/** A segment or subsegment document as the X-Ray daemon receives it. */
export interface XRayDocument {
  trace_id: string;
  id: string;
  name: string;
  parent_id?: string;
  type?: "subsegment";
  start_time: number;
  end_time?: number;
  in_progress?: boolean;
  namespace?: string;
  annotations?: Record<string, string | number | boolean>;
  metadata?: Record<string, unknown>;
  subsegments?: XRayDocument[];
}

export interface XRayDaemon {
  /** For AWS_XRAY_DAEMON_ADDRESS. */
  address: string;
  /** Every document received, in arrival order. */
  documents: XRayDocument[];
  /** Resolves with the documents once `done(documents)` holds; rejects after `timeoutMs`. */
  until(done: (documents: XRayDocument[]) => boolean, timeoutMs?: number): Promise<XRayDocument[]>;
  close(): Promise<void>;
}

const HEADER = '{"format":"json","version":1}';

/**
 * The X-Ray daemon's receiving end: a UDP socket on 127.0.0.1 (a free port)
 * that parses each datagram as the daemon does, a header line and one JSON
 * document, and refuses anything else.
 */
export async function startXRayDaemon(): Promise<XRayDaemon> {
  const socket = createSocket("udp4");
  const documents: XRayDocument[] = [];
  const waiters = new Set<() => void>();
  const errors: Error[] = [];
  socket.on("message", (message) => {
    const text = message.toString("utf8");
    const newline = text.indexOf("\n");
    if (newline === -1 || text.slice(0, newline) !== HEADER) {
      errors.push(new Error(`not an X-Ray daemon datagram: ${text.slice(0, 80)}`));
    } else {
      documents.push(JSON.parse(text.slice(newline + 1)) as XRayDocument);
    }
    for (const wake of waiters) wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve());
  });
  const { port } = socket.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    documents,
    until(done, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (errors.length > 0) finish(() => reject(errors[0]));
          else if (done(documents)) finish(() => resolve([...documents]));
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(new Error(`X-Ray daemon: still waiting; received ${JSON.stringify(documents)}`)),
            ),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
