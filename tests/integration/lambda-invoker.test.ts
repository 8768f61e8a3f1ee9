import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AsyncLambdaInvoker, InvokeRejectedError } from "../../lib/aws/lambda-invoker.ts";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A Lambda endpoint that takes the request and never answers (a stale connection, a stuck local runtime). */
async function silentEndpoint(): Promise<{ endpoint: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req) => {
    requests.push(req);
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe("async Lambda invoke", () => {
  it("a hand-off with no answer is rejected at its deadline, SDK retries included, so the caller can retry it", async () => {
    const { endpoint, requests } = await silentEndpoint();
    const lambda = new AsyncLambdaInvoker(
      { region: "us-east-1", endpoint },
      { accessKeyId: "test", secretAccessKey: "test" },
      300,
    );
    closers.push(() => lambda.close());

    const handOff = lambda.invoke("ledger-test-deadLetter", { hello: "world" });
    await expect(handOff).rejects.toBeInstanceOf(InvokeRejectedError);
    await expect(handOff).rejects.toThrow(
      "async invoke of ledger-test-deadLetter was not accepted: no answer within 300 ms",
    );
    expect(requests.length).toBeGreaterThanOrEqual(1);
    expect(requests[0]?.url).toBe("/2015-03-31/functions/ledger-test-deadLetter/invocations");
  });
});
