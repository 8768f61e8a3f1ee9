/**
 * A Redpanda container run as managed Kafka runs: one SASL_SSL listener
 * (certificates from make-certs.sh, SCRAM-SHA-512 logins for one user) and
 * no topic created by itself. @testcontainers/redpanda's module cannot do
 * that (its listener is plaintext and it creates topics on demand), so this
 * is a plain container with Redpanda's own configuration files. Its Kafka
 * port is the same inside and out (a free port picked here), so the address
 * it advertises is the one clients dial.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { GenericContainer, getContainerRuntimeClient, Wait } from "testcontainers";
import { freePort } from "../ports.ts";
import { APPLICATION_USER, type KafkaClientEnv, scramTlsClientEnv } from "./client-env.ts";
import { kafkajsSasl, kafkajsTls, type ScramCredentials } from "./scram.ts";
import { type BrokerTls, makeBrokerTls } from "./tls.ts";
import type { ListenerAccess } from "./wait-ready.ts";

const DEFAULT_REDPANDA_IMAGE = "docker.redpanda.com/redpandadata/redpanda:v24.2.4";
const TLS_DIR = "/etc/redpanda/tls";
/** The cluster configuration every local Redpanda starts with (docker-compose.yml's too). */
const BOOTSTRAP_YAML = join(dirname(fileURLToPath(import.meta.url)), "redpanda", "bootstrap.yaml");

export interface StartedRedpanda {
  brokers: string[];
  env: KafkaClientEnv;
  access: ListenerAccess;
  description: string;
  stop(): Promise<void>;
}

export async function startRedpanda(): Promise<StartedRedpanda> {
  const image = process.env.REDPANDA_IMAGE?.trim() || DEFAULT_REDPANDA_IMAGE;
  const host = (await getContainerRuntimeClient()).info.containerRuntime.host;
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "redpanda-tls-"));
  try {
    const tls = await makeBrokerTls(dir, host === "localhost" || host === "127.0.0.1" ? [] : [host]);
    const user = redpandaUser();
    const container = await (
      await redpandaContainer({
        image,
        tls,
        user,
        listeners: [{ name: "external", port, advertisedHost: host }],
      })
    )
      .withExposedPorts({ container: port, host: port })
      .start();
    const brokers = [`${host}:${port}`];
    return {
      brokers,
      env: scramTlsClientEnv({
        brokers,
        caFile: tls.caFile,
        mechanism: "SCRAM-SHA-512",
        credentials: user,
        brokerCount: 1,
      }),
      access: { ssl: kafkajsTls({ caFile: tls.caFile }), sasl: kafkajsSasl("SCRAM-SHA-512", user) },
      description: `Redpanda container ${image}`,
      stop: async () => {
        await container.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The one login of a Redpanda started here: the application's, with a password made now. */
export function redpandaUser(): ScramCredentials {
  return { username: APPLICATION_USER, password: randomBytes(18).toString("base64url") };
}

/** A Kafka listener: its port inside the container, and the host clients dial it by (same port). */
export interface RedpandaListener {
  name: string;
  port: number;
  advertisedHost: string;
}

export interface RedpandaOptions {
  image?: string;
  listeners: readonly RedpandaListener[];
  tls: BrokerTls;
  user: ScramCredentials;
}

/**
 * A Redpanda container, not yet started, whose listeners are all SASL_SSL
 * (the certificate `tls`, SCRAM-SHA-512 logins as `user`) and which creates no
 * topic by itself. The caller adds networks and port bindings.
 */
export async function redpandaContainer(options: RedpandaOptions): Promise<GenericContainer> {
  return (
    new GenericContainer(options.image ?? DEFAULT_REDPANDA_IMAGE)
      // rpk rewrites redpanda.yaml on start, which the image's own user may not do to a copied file.
      .withUser("root:root")
      .withEnvironment({
        // Created when the cluster first starts, before any client can connect.
        RP_BOOTSTRAP_USER: `${options.user.username}:${options.user.password}:SCRAM-SHA-512`,
      })
      .withCopyContentToContainer([
        { content: redpandaYaml(options.listeners), target: "/etc/redpanda/redpanda.yaml" },
        // Its superuser is APPLICATION_USER, the one login created here.
        { content: await readFile(BOOTSTRAP_YAML, "utf8"), target: "/etc/redpanda/.bootstrap.yaml" },
        { content: options.tls.ca, target: `${TLS_DIR}/ca.pem`, mode: 0o644 },
        { content: options.tls.cert, target: `${TLS_DIR}/broker.pem`, mode: 0o644 },
        { content: options.tls.key, target: `${TLS_DIR}/broker.key`, mode: 0o600 },
      ])
      .withCommand([
        "redpanda",
        "start",
        "--smp=1",
        "--memory=1G",
        "--reserve-memory=0M",
        "--overprovisioned",
        "--check=false",
        "--default-log-level=warn",
      ])
      .withWaitStrategy(Wait.forLogMessage("Successfully started Redpanda!"))
  );
}

/** Node configuration: Kafka listeners with TLS and SASL logins (as redpanda/compose.yaml's). */
function redpandaYaml(listeners: readonly RedpandaListener[]): string {
  const each = (render: (l: RedpandaListener) => string) => listeners.map(render).join("\n");
  return `redpanda:
  data_directory: /var/lib/redpanda/data
  seed_servers: []
  rpc_server: { address: 0.0.0.0, port: 33145 }
  advertised_rpc_api: { address: 127.0.0.1, port: 33145 }
  kafka_api:
${each((l) => `    - { name: ${l.name}, address: 0.0.0.0, port: ${l.port}, authentication_method: sasl }`)}
  advertised_kafka_api:
${each((l) => `    - { name: ${l.name}, address: ${l.advertisedHost}, port: ${l.port} }`)}
  kafka_api_tls:
${each(
  (l) => `    - name: ${l.name}
      enabled: true
      require_client_auth: false
      cert_file: ${TLS_DIR}/broker.pem
      key_file: ${TLS_DIR}/broker.key
      truststore_file: ${TLS_DIR}/ca.pem`,
)}
  admin:
    - { address: 0.0.0.0, port: 9644 }
  developer_mode: true
rpk:
  overprovisioned: true
`;
}
