/**
 * SASL/SCRAM for a Kafka broker: the local broker's listener settings, the
 * credentials bootstrapped when its storage is formatted (KRaft keeps SCRAM
 * credentials in the metadata log, so the broker's own login must exist
 * before it starts), and changing a user's password at run time with Kafka's
 * own `kafka-configs` tool (kafkajs' admin has no SCRAM API). The listener is
 * SASL_SSL, as on MSK and Redpanda Cloud.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConnectionOptions } from "node:tls";
import { promisify } from "node:util";
import { Kafka, logLevel, type SASLOptions } from "kafkajs";
import {
  javaBin,
  libsClasspath,
  log4jOption,
  TOOL_JVM_OPTS,
  toolLog4jProperties,
  toolOutput,
} from "./java.ts";

const execFileAsync = promisify(execFile);

export type ScramMechanism = "SCRAM-SHA-256" | "SCRAM-SHA-512";

export interface ScramCredentials {
  username: string;
  password: string;
}

export interface ScramSetup {
  /** Mechanisms the listener accepts; the first is the one logins use. Every password is set for all. */
  mechanisms: readonly ScramMechanism[];
  /** A user that may change SCRAM credentials (the local broker also logs in to itself as it). */
  admin: ScramCredentials;
  /** More users created with the cluster (the application's own login). */
  users?: readonly ScramCredentials[];
}

/** The broker's one client listener (the controller's is PLAINTEXT, on 127.0.0.1, for itself only). */
export const LISTENER = "SASL_SSL";

// kafka-configs parses `NAME=[key=value,...]` and the JAAS line quotes the
// password, so neither separators nor quotes can be part of one.
const SAFE_VALUE = /^[A-Za-z0-9._~+/-]+$/;

export function assertSafeCredentials({ username, password }: ScramCredentials): void {
  if (!SAFE_VALUE.test(username)) {
    throw new Error(
      `kafka: SCRAM user name ${JSON.stringify(username)} has characters kafka-configs cannot take`,
    );
  }
  if (!SAFE_VALUE.test(password)) {
    throw new Error(`kafka: the SCRAM password of ${username} has characters kafka-configs cannot take`);
  }
}

export function primaryMechanism(setup: ScramSetup): ScramMechanism {
  const [mechanism] = setup.mechanisms;
  if (!mechanism) throw new Error("kafka: a SCRAM broker needs at least one mechanism");
  return mechanism;
}

function jaasLine({ username, password }: ScramCredentials): string {
  return `org.apache.kafka.common.security.scram.ScramLoginModule required username="${username}" password="${password}";`;
}

/** server.properties entries of the SCRAM listener that the broker also logs in to itself on. */
export function scramListenerProperties(setup: ScramSetup): Record<string, string> {
  assertSafeCredentials(setup.admin);
  const props: Record<string, string> = {
    "sasl.enabled.mechanisms": setup.mechanisms.join(","),
    "sasl.mechanism.inter.broker.protocol": primaryMechanism(setup),
  };
  for (const mechanism of setup.mechanisms) {
    props[`listener.name.${LISTENER.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config`] = jaasLine(
      setup.admin,
    );
  }
  return props;
}

/** StorageTool arguments that create the admin's and the users' credentials together with the cluster. */
export function scramFormatArgs(setup: ScramSetup): string[] {
  const users = [setup.admin, ...(setup.users ?? [])];
  for (const user of users) assertSafeCredentials(user);
  return users.flatMap(({ username, password }) =>
    setup.mechanisms.flatMap((mechanism) => [
      "--add-scram",
      `${mechanism}=[name=${username},password=${password}]`,
    ]),
  );
}

/** Every password `setup` holds: masked in whatever a failed tool printed. */
export function scramSecrets(setup: ScramSetup): string[] {
  return [setup.admin, ...(setup.users ?? [])].map((user) => user.password);
}

/** kafkajs' options for logging in as `credentials`. */
export function kafkajsSasl(
  mechanism: ScramMechanism,
  { username, password }: ScramCredentials,
): SASLOptions {
  return mechanism === "SCRAM-SHA-256"
    ? { mechanism: "scram-sha-256", username, password }
    : { mechanism: "scram-sha-512", username, password };
}

export interface ScramUserAdminOptions {
  brokers: readonly string[];
  setup: ScramSetup;
  /** The Kafka jars (kafka-configs is kafka.admin.ConfigCommand in the broker jar). */
  libsDir: string;
  /** A private directory for the tool's client properties, which hold the admin password. */
  workDir: string;
  /** A SASL_SSL listener, whose certificate `caFile` signed (none: the system's CAs); absent: SASL_PLAINTEXT. */
  tls?: ListenerTls;
}

export interface ListenerTls {
  caFile?: string | undefined;
}

const CONFIG_TOOL_TIMEOUT_MS = 60_000;
const LOGIN_WORKS_TIMEOUT_MS = 30_000;
const LOGIN_POLL_MS = 200;

/** A SCRAM broker's users, managed with `kafka-configs --entity-type users` as its operator would. */
export class ScramUserAdmin {
  readonly mechanism: ScramMechanism;

  constructor(private readonly options: ScramUserAdminOptions) {
    this.mechanism = primaryMechanism(options.setup);
  }

  /**
   * Creates the user or changes its password, on every mechanism. Resolves
   * once the broker accepts the new password: the controller commits the
   * change and the broker applies it from the metadata log a moment later,
   * and a test must not race that.
   */
  async setPassword(username: string, password: string): Promise<void> {
    assertSafeCredentials({ username, password });
    // One request per mechanism: KRaft refuses two changes of one user in one request.
    for (const mechanism of this.options.setup.mechanisms) {
      await this.configTool(username, ["--add-config", `${mechanism}=[password=${password}]`], password);
    }
    await this.untilLoginWorks({ username, password });
  }

  async deleteUser(username: string): Promise<void> {
    for (const mechanism of this.options.setup.mechanisms) {
      await this.configTool(username, ["--delete-config", mechanism]);
    }
  }

  private async configTool(username: string, change: string[], password?: string): Promise<void> {
    const { brokers, libsDir, workDir, setup } = this.options;
    const commandConfig = join(workDir, "scram-admin.properties");
    const log4j = join(workDir, "scram-admin-log4j.properties");
    await writeFile(commandConfig, clientProperties(this.mechanism, setup.admin, this.options.tls), {
      mode: 0o600,
    });
    await writeFile(log4j, toolLog4jProperties());
    const args = [
      ...TOOL_JVM_OPTS,
      log4jOption(log4j),
      "-cp",
      libsClasspath(libsDir),
      "kafka.admin.ConfigCommand",
      "--bootstrap-server",
      brokers.join(","),
      "--command-config",
      commandConfig,
      "--alter",
      ...change,
      "--entity-type",
      "users",
      "--entity-name",
      username,
    ];
    try {
      await execFileAsync(javaBin(), args, { timeout: CONFIG_TOOL_TIMEOUT_MS });
    } catch (error) {
      const secrets = [setup.admin.password, ...(password === undefined ? [] : [password])];
      throw new Error(
        `kafka: kafka-configs could not change SCRAM user ${username}: ${toolOutput(error, secrets)}`,
      );
    }
  }

  private async untilLoginWorks(credentials: ScramCredentials): Promise<void> {
    const deadline = Date.now() + LOGIN_WORKS_TIMEOUT_MS;
    let lastError = "no attempt made";
    while (Date.now() < deadline) {
      const admin = new Kafka({
        clientId: "scram-user-admin",
        brokers: [...this.options.brokers],
        ssl: kafkajsTls(this.options.tls),
        sasl: kafkajsSasl(this.mechanism, credentials),
        logLevel: logLevel.NOTHING,
        connectionTimeout: 1_000,
        requestTimeout: 2_000,
        retry: { retries: 0 },
      }).admin();
      try {
        await admin.connect();
        return;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      await sleep(LOGIN_POLL_MS);
    }
    throw new Error(
      `kafka: the new SCRAM password of ${credentials.username} was not accepted within ${LOGIN_WORKS_TIMEOUT_MS / 1000} s (${lastError})`,
    );
  }
}

/** kafkajs' TLS options for a listener (see ListenerTls). */
export function kafkajsTls(tls: ListenerTls | undefined): ConnectionOptions | boolean {
  if (!tls) return false;
  return tls.caFile === undefined ? true : { ca: [readFileSync(tls.caFile, "utf8")] };
}

/** A Java client's properties logging in as `credentials` (the CLI tools' --command-config). */
function clientProperties(
  mechanism: ScramMechanism,
  credentials: ScramCredentials,
  tls: ListenerTls | undefined,
): string {
  const trust = tls?.caFile ? ["ssl.truststore.type=PEM", `ssl.truststore.location=${tls.caFile}`] : [];
  return [
    `security.protocol=${tls ? "SASL_SSL" : "SASL_PLAINTEXT"}`,
    ...trust,
    `sasl.mechanism=${mechanism}`,
    `sasl.jaas.config=${jaasLine(credentials)}`,
    "",
  ].join("\n");
}
