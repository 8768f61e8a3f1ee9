/**
 * A new single-node KRaft cluster's storage, formatted with Kafka's own StorageTool, with the
 * SCRAM credentials bootstrapped into its metadata log (the broker's own login must exist before
 * it starts).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { javaBin, libsClasspath, log4jOption, TOOL_JVM_OPTS, toolOutput } from "./java.ts";
import { type ScramSetup, scramFormatArgs, scramSecrets } from "./scram.ts";

const execFileAsync = promisify(execFile);
const FORMAT_TIMEOUT_MS = 60_000;

export interface FormatStorageOptions {
  libsDir: string;
  /** The broker's server.properties (its log.dirs are formatted). */
  serverProps: string;
  /** log4j settings for the tool. */
  toolLog4jProps: string;
  scram: ScramSetup;
}

export async function formatStorage(options: FormatStorageOptions): Promise<void> {
  const args = [
    ...TOOL_JVM_OPTS,
    log4jOption(options.toolLog4jProps),
    "-cp",
    libsClasspath(options.libsDir),
    "kafka.tools.StorageTool",
    "format",
    "--cluster-id",
    randomClusterId(),
    "--config",
    options.serverProps,
    ...scramFormatArgs(options.scram),
  ];
  try {
    await execFileAsync(javaBin(), args, { timeout: FORMAT_TIMEOUT_MS });
  } catch (error) {
    const hint = "is a JDK 17+ on PATH or JAVA_HOME set?";
    // The command line carries the passwords: quote only what the tool printed, masked.
    throw new Error(
      `kafka: formatting storage failed (${hint})\n${toolOutput(error, scramSecrets(options.scram))}`,
    );
  }
}

/** Kafka's Uuid text form: 16 random bytes, base64url. Kafka itself rejects ids starting with '-'. */
function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}
