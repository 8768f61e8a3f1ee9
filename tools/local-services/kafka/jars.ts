import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, "../../..");
const POM_PATH = join(HERE, "pom.xml");

// Written last, so its presence means every jar was copied (a crashed mvn run leaves none).
const COMPLETE_MARKER = ".complete";
const MVN_TIMEOUT_MS = 10 * 60_000;

export interface KafkaJars {
  libsDir: string;
  /** Version of the kafka_2.13 jar actually found in libsDir. */
  version: string;
}

/**
 * Returns a directory holding the Kafka broker's classpath, downloading it with Maven on first use.
 * KAFKA_JARS_DIR may point at an existing folder (e.g. the libs/ of an unpacked Kafka distribution).
 */
export async function ensureKafkaJars(log: (line: string) => void): Promise<KafkaJars> {
  const override = process.env.KAFKA_JARS_DIR?.trim();
  const libsDir = override ? resolve(override) : await defaultLibsDir();
  if (!isUsable(libsDir)) {
    await downloadInto(libsDir, log);
  }
  return { libsDir, version: versionOfLibs(libsDir) };
}

async function defaultLibsDir(): Promise<string> {
  const version = await pomKafkaVersion();
  return join(REPO_ROOT, ".cache", `kafka-${version}`, "libs");
}

async function pomKafkaVersion(): Promise<string> {
  const pom = await readFile(POM_PATH, "utf8");
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (!match?.[1]) throw new Error(`kafka: no <kafka.version> in ${POM_PATH}`);
  return match[1].trim();
}

function isUsable(libsDir: string): boolean {
  if (existsSync(join(libsDir, COMPLETE_MARKER))) return true;
  // A hand-provided folder has no marker; trust it if the broker jar is there.
  return existsSync(libsDir) && findBrokerJar(libsDir) !== undefined;
}

function findBrokerJar(libsDir: string): string | undefined {
  return readdirSync(libsDir).find((name) => /^kafka_2\.13-[^-]+\.jar$/.test(name));
}

function versionOfLibs(libsDir: string): string {
  const jar = findBrokerJar(libsDir);
  const version = jar?.slice("kafka_2.13-".length, -".jar".length);
  if (!version) throw new Error(`kafka: no kafka_2.13-<version>.jar in ${libsDir}`);
  return version;
}

/**
 * Copies into a private sibling folder and renames it into place, so parallel test workers on a
 * cold cache never see (or delete) each other's half-copied folder.
 */
async function downloadInto(libsDir: string, log: (line: string) => void): Promise<void> {
  const staging = `${libsDir}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
  await mkdir(dirname(libsDir), { recursive: true });
  log(`kafka: fetching Apache Kafka jars with Maven into ${libsDir} (first run only)`);
  const startedAt = performance.now();
  try {
    await runMaven(staging);
    await writeFile(join(staging, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
    await moveIntoPlace(staging, libsDir);
    log(`kafka: jars fetched in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function moveIntoPlace(staging: string, libsDir: string): Promise<void> {
  // Leftover from an older, interrupted layout: no marker, so it cannot be trusted.
  if (existsSync(libsDir) && !isUsable(libsDir)) await rm(libsDir, { recursive: true, force: true });
  try {
    await rename(staging, libsDir);
  } catch (error) {
    // Another worker won the race; its copy is just as good.
    if (!isUsable(libsDir)) throw error;
  }
}

async function runMaven(outputDir: string): Promise<void> {
  const args = [
    "-q",
    "-B",
    "-Dstyle.color=never",
    "-f",
    POM_PATH,
    "dependency:copy-dependencies",
    `-DoutputDirectory=${outputDir}`,
  ];
  try {
    await execFileAsync("mvn", args, { timeout: MVN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    throw new Error(
      `kafka: 'mvn ${args.join(" ")}' failed. Install Maven 3 + a JDK 17, or set KAFKA_JARS_DIR / KAFKA_BROKERS.\n${describeExecError(error)}`,
      { cause: error },
    );
  }
}

export function describeExecError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { stdout, stderr } = error as Error & { stdout?: string; stderr?: string };
  return [error.message, stdout, stderr].filter(Boolean).join("\n").trim();
}
