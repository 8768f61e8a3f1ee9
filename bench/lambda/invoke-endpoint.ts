/**
 * The Lambda Invoke API's route for asynchronous invocations ("Event"), so
 * the api's nudge (an AWS SDK InvokeCommand to LAMBDA_ENDPOINT) reaches the
 * benchmark's drain processes. Each is accepted (202) as Lambda accepts it, and
 * handed to `dispatch`, which starts it on a free container or drops it (as
 * reserved concurrency throttles it; the schedule delivers regardless), with
 * the invocation's payload.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const ROUTE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export interface InvokeEndpoint {
  /** For LAMBDA_ENDPOINT. */
  endpoint: string;
  close(): Promise<void>;
}

export async function startInvokeEndpoint(
  dispatch: (functionName: string, payload: unknown) => void,
): Promise<InvokeEndpoint> {
  const server = createServer((req, res) => {
    const match = req.method === "POST" ? ROUTE.exec(req.url?.split("?")[0] ?? "") : null;
    if (!match || req.headers["x-amz-invocation-type"] !== "Event") {
      req.resume();
      res.writeHead(400, {
        "content-type": "application/json",
        "x-amzn-errortype": "InvalidRequestContentException",
      });
      res.end(JSON.stringify({ message: "only asynchronous (Event) invocations are served here" }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      res.writeHead(202, { "x-amzn-requestid": crypto.randomUUID() });
      res.end();
      dispatch(decodeURIComponent(match[1] as string), payloadOf(Buffer.concat(chunks)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The invocation's JSON payload; {} when it has none (as Lambda passes an empty one). */
function payloadOf(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return {};
  }
}
