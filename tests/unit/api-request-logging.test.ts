/** Every log line of a call carries that call's ids, and none of them outlives it. */
import middy from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { corsMiddleware } from "../../lib/api/middleware/cors.ts";
import { requestLogging } from "../../lib/api/middleware/request-logging.ts";
import { createLogger } from "../../lib/logging.ts";
import { createCorsPolicy } from "../../lib/rpc/index.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";

function event(requestId: string, rawPath: string): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString: "",
    headers: {},
    requestContext: {
      accountId: "1",
      apiId: "x",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: { method: "POST", path: rawPath, protocol: "HTTP/1.1", sourceIp: "1.2.3.4", userAgent: "t" },
      requestId,
      routeKey: "$default",
      stage: "$default",
      time: "",
      timeEpoch: 0,
    },
    isBase64Encoded: false,
  };
}

/** The JSON lines the logger writes while `run` runs. */
async function captureLines(run: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return lines
    .join("")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("requestLogging", () => {
  it("stamps the request id, path and Lambda request id on lines logged during the call only", async () => {
    const logger = createLogger({ function: "api", logLevel: "INFO", env: {} });
    const handler = middy(async () => {
      logger.info("inside");
      return { statusCode: 200 };
    }).use(requestLogging(logger));
    const first = lambdaContext();
    const second = lambdaContext();

    const lines = await captureLines(async () => {
      await handler(event("req-1", "/a.v1.A/One"), first);
      await handler(event("req-2", "/a.v1.A/Two"), second);
      logger.info("between calls");
    });

    expect(lines.map((line) => line.message)).toEqual(["inside", "inside", "between calls"]);
    expect(lines[0]).toMatchObject({
      requestId: "req-1",
      path: "/a.v1.A/One",
      function_request_id: first.awsRequestId,
    });
    expect(lines[1]).toMatchObject({
      requestId: "req-2",
      path: "/a.v1.A/Two",
      function_request_id: second.awsRequestId,
    });
    expect(lines[2]).not.toHaveProperty("requestId");
    expect(lines[2]).not.toHaveProperty("path");
  });

  it("drops the call's keys when the handler fails too", async () => {
    const logger = createLogger({ function: "api", logLevel: "INFO", env: {} });
    const handler = middy(async () => {
      throw new Error("boom");
    }).use(requestLogging(logger));

    const lines = await captureLines(async () => {
      await expect(handler(event("req-3", "/a.v1.A/Three"), lambdaContext())).rejects.toThrow("boom");
      logger.info("after the failure");
    });

    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toHaveProperty("requestId");
    expect(lines[0]).not.toHaveProperty("path");
  });

  it("drops the call's keys when a later middleware answers early (a CORS preflight)", async () => {
    const logger = createLogger({ function: "api", logLevel: "INFO", env: {} });
    let handlerRan = false;
    const handler = middy(async () => {
      handlerRan = true;
      return { statusCode: 200 };
    })
      .use(requestLogging(logger))
      .use(corsMiddleware(createCorsPolicy({ allowedOrigins: ["https://app.test"], maxAgeSeconds: 60 })));
    const preflight = event("req-4", "/a.v1.A/Four");
    preflight.requestContext.http.method = "OPTIONS";
    preflight.headers = { origin: "https://app.test" };

    const lines = await captureLines(async () => {
      const result = await handler(preflight, lambdaContext());
      expect(result).toMatchObject({ statusCode: 204 });
      logger.info("after the preflight");
    });

    expect(handlerRan).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toHaveProperty("requestId");
    expect(lines[0]).not.toHaveProperty("path");
  });

  it("gives a logger that prints nothing for the call no keys, and a sampled one all of them", async () => {
    const silent = createLogger({ function: "api", logLevel: "SILENT", env: {} });
    const appended = vi.spyOn(silent, "appendKeys");
    const contexts = vi.spyOn(silent, "addContext");
    const quiet = middy(async () => {
      silent.error("never printed");
      return { statusCode: 200 };
    }).use(requestLogging(silent));
    expect(
      await captureLines(async () => void (await quiet(event("req-6", "/a.v1.A/Six"), lambdaContext()))),
    ).toEqual([]);
    expect(appended).not.toHaveBeenCalled();
    expect(contexts).not.toHaveBeenCalled();

    // Debug sampling picks every call: the level drops below SILENT for it, and its lines carry its keys.
    vi.stubEnv("POWERTOOLS_LOGGER_SAMPLE_RATE", "1");
    const sampled = createLogger({ function: "api", logLevel: "SILENT", env: {} });
    const handler = middy(async () => {
      sampled.info("inside");
      return { statusCode: 200 };
    }).use(requestLogging(sampled));
    const context = lambdaContext();
    const lines = await captureLines(async () => {
      await handler(event("req-7", "/a.v1.A/Seven"), context);
      sampled.info("after the call");
    });
    const inside = lines.find((line) => line.message === "inside");
    expect(inside).toMatchObject({
      requestId: "req-7",
      path: "/a.v1.A/Seven",
      function_request_id: context.awsRequestId,
    });
    const after = lines.find((line) => line.message === "after the call");
    expect(after).toBeDefined();
    expect(after).not.toHaveProperty("requestId");
  });

  it("never logs the event, whose headers carry the caller's token, even when POWERTOOLS_LOGGER_LOG_EVENT asks", async () => {
    vi.stubEnv("POWERTOOLS_LOGGER_LOG_EVENT", "true");
    const logger = createLogger({ function: "api", logLevel: "INFO", env: {} });
    const handler = middy(async () => ({ statusCode: 200 })).use(requestLogging(logger));
    const call = event("req-5", "/a.v1.A/Five");
    call.headers = { authorization: "Bearer secret-token-value" };

    const lines = await captureLines(async () => {
      await handler(call, lambdaContext());
      logger.info("after the call");
    });

    expect(lines.map((line) => line.message)).toEqual(["after the call"]);
    expect(JSON.stringify(lines)).not.toContain("secret-token-value");
  });
});
