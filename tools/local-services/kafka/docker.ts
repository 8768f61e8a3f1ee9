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
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GenericContainer, getContainerRuntimeClient, Wait } from "testcontainers";
import { freePort } from "../ports.ts";
import { APPLICATION_USER, type KafkaClientEnv, scramTlsClientEnv } from "./client-env.ts";
import { kafkajsSasl, kafkajsTls, type ScramCredentials } from "./scram.ts";
import { makeBrokerTls } from "./tls.ts";
import type { ListenerAccess } from "./wait-ready.ts";

const DEFAULT_REDPANDA_IMAGE = "docker.redpanda.com/redpandadata/redpanda:v24.2.4";
const TLS_DIR = "/etc/redpanda/tls";

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
    const user: ScramCredentials = {
      username: APPLICATION_USER,
      password: randomBytes(18).toString("base64url"),
    };
    const container = await new GenericContainer(image)
      // rpk rewrites redpanda.yaml on start, which the image's own user may not do to a copied file.
      .withUser("root:root")
      .withExposedPorts({ container: port, host: port })
      .withEnvironment({
        // Created when the cluster first starts, before any client can connect.
        RP_BOOTSTRAP_USER: `${user.username}:${user.password}:SCRAM-SHA-512`,
      })
      .withCopyContentToContainer([
        { content: redpandaYaml(host, port), target: "/etc/redpanda/redpanda.yaml" },
        { content: bootstrapYaml(user.username), target: "/etc/redpanda/.bootstrap.yaml" },
        { content: tls.ca, target: `${TLS_DIR}/ca.pem`, mode: 0o644 },
        { content: tls.cert, target: `${TLS_DIR}/broker.pem`, mode: 0o644 },
        { content: tls.key, target: `${TLS_DIR}/broker.key`, mode: 0o600 },
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

/** Node configuration: one Kafka listener, TLS with the broker certificate, SASL logins. */
function redpandaYaml(host: string, port: number): string {
  return `redpanda:
  data_directory: /var/lib/redpanda/data
  seed_servers: []
  rpc_server: { address: 0.0.0.0, port: 33145 }
  advertised_rpc_api: { address: 127.0.0.1, port: 33145 }
  kafka_api:
    - { name: external, address: 0.0.0.0, port: ${port}, authentication_method: sasl }
  advertised_kafka_api:
    - { name: external, address: ${host}, port: ${port} }
  kafka_api_tls:
    - name: external
      enabled: true
      require_client_auth: false
      cert_file: ${TLS_DIR}/broker.pem
      key_file: ${TLS_DIR}/broker.key
      truststore_file: ${TLS_DIR}/ca.pem
  admin:
    - { address: 0.0.0.0, port: 9644 }
  developer_mode: true
rpk:
  overprovisioned: true
`;
}

/**
 * Cluster configuration, applied when the cluster is first created: SCRAM
 * logins on, `user` may do anything, and a topic nobody created is an error.
 */
function bootstrapYaml(user: string): string {
  return `enable_sasl: true
sasl_mechanisms: [SCRAM]
superusers: [${user}]
auto_create_topics_enabled: false
group_initial_rebalance_delay: 0
`;
}
