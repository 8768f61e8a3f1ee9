/** One logger factory: one service name (from the environment), the function as a key on every line. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger, loggable } from "../../lib/logging.ts";

async function linesOf(run: () => void): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const capture = (chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  };
  // Powertools writes warnings and errors to stderr, the rest to stdout.
  const spies = [
    vi.spyOn(process.stdout, "write").mockImplementation(capture),
    vi.spyOn(process.stderr, "write").mockImplementation(capture),
  ];
  try {
    run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines
    .join("")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

afterEach(() => vi.restoreAllMocks());

describe("createLogger", () => {
  it("names the service from POWERTOOLS_SERVICE_NAME and stamps the function", async () => {
    const logger = createLogger({
      function: "migrate",
      logLevel: "INFO",
      env: { POWERTOOLS_SERVICE_NAME: "ledger-x" },
    });
    const [line] = await linesOf(() => logger.info("hello"));
    expect(line).toMatchObject({ service: "ledger-x", function: "migrate", message: "hello", level: "INFO" });
  });

  it("falls back to the project's service name when the variable is unset or empty", async () => {
    for (const env of [{}, { POWERTOOLS_SERVICE_NAME: "" }]) {
      const logger = createLogger({ function: "api", logLevel: "INFO", env });
      const [line] = await linesOf(() => logger.info("hello"));
      expect(line).toMatchObject({ service: "payment-ledger", function: "api" });
    }
  });

  it("logs a thrown value, Error or not, with its name and message", async () => {
    const logger = createLogger({ function: "api", logLevel: "INFO", env: {} });
    const thrown = new TypeError("boom");
    expect(loggable(thrown)).toBe(thrown);
    const [line] = await linesOf(() => logger.error("failed", { error: loggable("plain string") }));
    expect(line?.error).toMatchObject({ name: "Error", message: "plain string" });
  });
});
