/**
 * The LocalStack e2e stack on Docker: Postgres, PgBouncer, Redpanda and LocalStack containers on
 * one network, as docker-compose.yml runs them. The functions run as containers on that network
 * and reach pgbouncer:6432 (migrate: postgres:5432) and redpanda:29092 by name (the defaults of
 * localstack/deploy.sh and of the init script's dev stage parameters). Redpanda is SASL_SSL on
 * both its listeners, with a CA made here; the Lambda containers get it at /etc/kafka-tls/ca.pem,
 * as with compose.
 *
 * LOCALSTACK_AUTH_TOKEN selects the current image; without it the last free build
 * (community-archive) is used. LOCALSTACK_IMAGE overrides both.
 */
import { chmod, copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalstackContainer } from "@testcontainers/localstack";
import { PostgreSqlContainer } from "@testcontainers/postgresql";
import { GenericContainer, getContainerRuntimeClient, Network, Wait } from "testcontainers";
import { scramTlsClientEnv } from "../../tools/local-services/kafka/client-env.ts";
import { redpandaContainer, redpandaUser } from "../../tools/local-services/kafka/docker.ts";
import { makeBrokerTls } from "../../tools/local-services/kafka/tls.ts";
import { PROJECT_ROOT } from "../../tools/local-services/localstack.ts";
import { freePort } from "../../tools/local-services/ports.ts";
import { withDatabase } from "../../tools/local-services/postgres.ts";
import { LOCALSTACK_TEST_ENV, type LocalStackStack } from "./localstack-stack.ts";

const PGBOUNCER_CONTEXT = join(PROJECT_ROOT, "tools", "local-services", "pgbouncer");
const LOCALSTACK_IMAGE =
  process.env.LOCALSTACK_IMAGE ||
  (process.env.LOCALSTACK_AUTH_TOKEN
    ? "localstack/localstack:latest"
    : "localstack/localstack:community-archive");

export async function startDockerStack(): Promise<LocalStackStack> {
  const network = await new Network().start();
  const runtime = await getContainerRuntimeClient();
  const host = runtime.info.containerRuntime.host;
  const kafkaPort = await freePort();
  const tlsDir = await mkdtemp(join(tmpdir(), "localstack-kafka-tls-"));
  const tls = await makeBrokerTls(join(tlsDir, "broker"), ["redpanda", host]);
  // Only the CA, readable by the Lambda containers' user.
  const caDir = join(tlsDir, "ca");
  await mkdir(caDir, { mode: 0o755 });
  await copyFile(tls.caFile, join(caDir, "ca.pem"));
  await chmod(join(caDir, "ca.pem"), 0o644);
  await chmod(tlsDir, 0o755);
  const user = redpandaUser();
  const pgbouncerImage = GenericContainer.fromDockerfile(PGBOUNCER_CONTEXT).build(
    "payment-ledger-pgbouncer",
    {
      deleteOnExit: false,
    },
  );
  const [postgres, redpanda, localstack] = await Promise.all([
    new PostgreSqlContainer("postgres:16-alpine")
      .withNetwork(network)
      .withNetworkAliases("postgres")
      .withDatabase("ledger")
      .withUsername("postgres")
      .withPassword("postgres")
      .start(),
    // Two listeners, as in docker-compose.yml: the functions use redpanda:29092, the test the host port.
    redpandaContainer({
      tls,
      user,
      listeners: [
        { name: "internal", port: 29092, advertisedHost: "redpanda" },
        { name: "external", port: kafkaPort, advertisedHost: host },
      ],
    }).then((container) =>
      container
        .withNetwork(network)
        .withNetworkAliases("redpanda")
        .withExposedPorts({ container: kafkaPort, host: kafkaPort })
        .start(),
    ),
    new LocalstackContainer(LOCALSTACK_IMAGE)
      .withNetwork(network)
      .withNetworkAliases("localstack")
      .withEnvironment({
        ...LOCALSTACK_TEST_ENV,
        LOCALSTACK_AUTH_TOKEN: process.env.LOCALSTACK_AUTH_TOKEN ?? "",
        LAMBDA_DOCKER_NETWORK: network.getName(),
        LAMBDA_IGNORE_ARCHITECTURE: "1",
        // The broker's CA, where the local stage's KAFKA_SSL_CA_FILE points (localstack/deploy.sh).
        LAMBDA_DOCKER_FLAGS: `-v ${caDir}:/etc/kafka-tls:ro`,
      })
      .withBindMounts([
        { source: dockerSocket(), target: "/var/run/docker.sock" },
        {
          source: join(PROJECT_ROOT, "localstack", "init", "ready.d"),
          target: "/etc/localstack/init/ready.d",
        },
      ])
      .start(),
  ]);
  // docker-compose.yml's pgbouncer service, with the same files.
  const pgbouncer = await (await pgbouncerImage)
    .withNetwork(network)
    .withNetworkAliases("pgbouncer")
    .withCopyFilesToContainer([
      { source: join(PGBOUNCER_CONTEXT, "compose.ini"), target: "/etc/pgbouncer/pgbouncer.ini", mode: 0o644 },
      {
        source: join(PGBOUNCER_CONTEXT, "compose-userlist.txt"),
        target: "/etc/pgbouncer/userlist.txt",
        mode: 0o644,
      },
    ])
    .withWaitStrategy(Wait.forLogMessage(/process up/))
    .start();
  // Both stages use the one database there: the dev stage's secret names pgbouncer:6432/ledger too.
  // The test itself reads it directly.
  const databaseUrl = withDatabase(postgres.getConnectionUri(), "ledger");
  // An IP address, so S3 is addressed path-style (localstack/deploy.sh).
  const endpoint = `http://${host === "localhost" ? "127.0.0.1" : host}:${localstack.getPort()}`;
  return {
    source: "docker",
    endpoint,
    databaseUrls: { local: databaseUrl, dev: databaseUrl },
    kafkaEnv: scramTlsClientEnv({
      brokers: [`${host}:${kafkaPort}`],
      caFile: tls.caFile,
      mechanism: "SCRAM-SHA-512",
      credentials: user,
      brokerCount: 1,
    }),
    devFunctionDatabaseUrl: "postgres://postgres:postgres@pgbouncer:6432/ledger",
    poolerAddress: "pgbouncer:6432",
    deployEnv: {
      LOCALSTACK_ENDPOINT: endpoint,
      // The functions keep deploy.sh's defaults (redpanda:29092, /etc/kafka-tls/ca.pem, payment-ledger);
      // the topics step reaches the broker from here.
      LOCALSTACK_KAFKA_SASL_PASSWORD: user.password,
      LOCALSTACK_HOST_KAFKA_BROKERS: `${host}:${kafkaPort}`,
      LOCALSTACK_HOST_KAFKA_SSL_CA_FILE: tls.caFile,
    },
    output: async () => "",
    stop: async () => {
      await Promise.allSettled([localstack.stop(), redpanda.stop(), pgbouncer.stop(), postgres.stop()]);
      await network.stop();
      await rm(tlsDir, { recursive: true, force: true });
    },
  };
}

function dockerSocket(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
}
