/** How the Kafka jars are run: the JVM, its options, the classpath. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

// Kafka's CLI tools run for a second or two; C1-only JIT trims their startup.
export const TOOL_JVM_OPTS = ["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData"];

export function javaBin(): string {
  const javaHome = process.env.JAVA_HOME;
  return javaHome ? join(javaHome, "bin", "java") : "java";
}

/** Why no JVM can be run here, or undefined when `java -version` works. */
export async function javaMissing(): Promise<string | undefined> {
  try {
    await execFileAsync(javaBin(), ["-version"], { timeout: 30_000 });
    return undefined;
  } catch (error) {
    return `${javaBin()} -version failed (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
  }
}

export function log4jOption(configFile: string): string {
  return `-Dlog4j.configuration=file:${configFile}`;
}

/** Every jar of `libsDir`. Java expands "dir/*" itself; it must not be glob-expanded by a shell. */
export function libsClasspath(libsDir: string): string {
  return join(libsDir, "*");
}

/**
 * What a failed tool printed, with `secrets` masked (the tools echo their
 * arguments on failure), and without execFile's own message, which quotes the
 * whole command line.
 */
export function toolOutput(error: unknown, secrets: readonly string[]): string {
  const { stdout, stderr, code, signal } = error as {
    stdout?: string;
    stderr?: string;
    code?: unknown;
    signal?: unknown;
  };
  let output = [stdout, stderr].filter(Boolean).join("\n").trim();
  for (const secret of secrets) output = output.replaceAll(secret, "***");
  return `exit ${String(signal ?? code)}${output ? `\n${output}` : ""}`;
}

/** CLI tools (StorageTool) dump their whole config at INFO; only problems matter, on stderr. */
export function toolLog4jProperties(): string {
  return [
    "log4j.rootLogger=WARN, stderr",
    "log4j.appender.stderr=org.apache.log4j.ConsoleAppender",
    "log4j.appender.stderr.Target=System.err",
    "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout",
    "log4j.appender.stderr.layout.ConversionPattern=%p %m (%c)%n",
    "",
  ].join("\n");
}
