/** The certificates of a local broker's TLS listener, made by make-certs.sh. */
import { execFile } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const MAKE_CERTS = join(dirname(fileURLToPath(import.meta.url)), "make-certs.sh");

export interface BrokerTls {
  /** The CA certificate clients trust (KAFKA_SSL_CA_FILE). */
  caFile: string;
  /** The broker's certificate and its unencrypted PKCS#8 key. */
  certFile: string;
  keyFile: string;
  /** The same three, as PEM text. */
  ca: string;
  cert: string;
  key: string;
}

/** A fresh CA and a broker certificate for 127.0.0.1, localhost and `hostnames`, in `dir`. */
export async function makeBrokerTls(dir: string, hostnames: readonly string[] = []): Promise<BrokerTls> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await execFileAsync("sh", [MAKE_CERTS, dir, ...hostnames], { timeout: 60_000 });
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(
      `kafka: could not make the broker's TLS certificates with openssl (is it installed?): ${stderr?.trim() || String(error)}`,
    );
  }
  const caFile = join(dir, "ca.pem");
  const certFile = join(dir, "broker.pem");
  const keyFile = join(dir, "broker.key");
  const [ca, cert, key] = await Promise.all(
    [caFile, certFile, keyFile].map((file) => readFile(file, "utf8")),
  );
  return { caFile, certFile, keyFile, ca: ca as string, cert: cert as string, key: key as string };
}
