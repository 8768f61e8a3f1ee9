import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AsyncLambdaInvoker, InvokeRejectedError } from "../../lib/aws/lambda-invoker.ts";
import { silentEndpoint } from "../support/silent-endpoint.ts";

// The deadline also covers the SDK's first load; loaded here, as in a warm container, the
// deadlines below measure the endpoint alone.
beforeAll(async () => {
  await import("@aws-sdk/client-lambda");
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe("async Lambda invoke", () => {
  it("a hand-off with no answer is rejected at its deadline, SDK retries included, so the caller can retry it", async () => {
    const { endpoint, requests, close } = await silentEndpoint();
    closers.push(close);
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
