import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type FunctionHandler = (payload: unknown) => Promise<unknown>;

export interface Invocation {
  functionName: string;
  invocationType: string;
  payload: unknown;
}

export interface LambdaInvokeServer {
  /** For LAMBDA_ENDPOINT / the client's endpoint setting. */
  endpoint: string;
  invocations: Invocation[];
  /** Errors thrown by handlers run for "Event" invocations (Lambda would retry them). */
  failures: unknown[];
  /** Resolves when every accepted async invocation has finished running. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const ROUTE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
  res.end(JSON.stringify({ Type: "User", message }));
}

/**
 * The Lambda Invoke API's one route, served locally: "Event" invocations are
 * answered 202 at once and run afterwards (as Lambda does), others run and
 * return their result. Requests are not authenticated.
 */
export async function startLambdaInvokeServer(
  functions: Record<string, FunctionHandler>,
): Promise<LambdaInvokeServer> {
  const invocations: Invocation[] = [];
  const failures: unknown[] = [];
  const running = new Set<Promise<void>>();

  const server = createServer(async (req, res) => {
    const match = req.method === "POST" ? ROUTE.exec(req.url?.split("?")[0] ?? "") : null;
    if (!match)
      return sendError(res, 404, "UnknownOperationException", `no route for ${req.method} ${req.url}`);
    const functionName = decodeURIComponent(match[1] as string);
    const handler = functions[functionName];
    if (!handler)
      return sendError(res, 404, "ResourceNotFoundException", `Function not found: ${functionName}`);
    const body = await readBody(req);
    let payload: unknown;
    try {
      payload = body === "" ? {} : JSON.parse(body);
    } catch {
      return sendError(res, 400, "InvalidRequestContentException", "payload is not JSON");
    }
    const invocationType = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
    invocations.push({ functionName, invocationType, payload });

    if (invocationType === "Event") {
      res.writeHead(202, { "x-amzn-requestid": crypto.randomUUID() });
      res.end();
      const run = handler(payload).then(
        () => undefined,
        (error: unknown) => void failures.push(error),
      );
      running.add(run);
      void run.finally(() => running.delete(run));
      return;
    }
    try {
      const result = await handler(payload);
      res.writeHead(200, { "content-type": "application/json", "x-amz-executed-version": "$LATEST" });
      res.end(JSON.stringify(result ?? null));
    } catch (error) {
      res.writeHead(200, { "content-type": "application/json", "x-amz-function-error": "Unhandled" });
      res.end(JSON.stringify({ errorMessage: error instanceof Error ? error.message : String(error) }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    invocations,
    failures,
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
