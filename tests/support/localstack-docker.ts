/**
 * The LocalStack e2e stack on Docker: Postgres, PgBouncer, Redpanda and LocalStack containers on
 * one network, as docker-compose.yml runs them. The functions run as containers on that network
 * and reach pgbouncer:6432 (migrate: postgres:5432) and redpanda:29092 by name (the defaults of
 * localstack/deploy.sh and of the init script's dev stage parameters).
 *
 * LOCALSTACK_AUTH_TOKEN selects the current image; without it the last free build
 * (community-archive) is used. LOCALSTACK_IMAGE overrides both.
 */
import { join } from "node:path";
import { LocalstackContainer } from "@testcontainers/localstack";
import { PostgreSqlContainer } from "@testcontainers/postgresql";
import { GenericContainer, getContainerRuntimeClient, Network, Wait } from "testcontainers";
import { PROJECT_ROOT } from "../../tools/local-services/localstack.ts";
import { freePort } from "../../tools/local-services/ports.ts";
import { withDatabase } from "../../tools/local-services/postgres.ts";
import { LOCALSTACK_TEST_ENV, type LocalStackStack } from "./localstack-stack.ts";

const REDPANDA_IMAGE = "docker.redpanda.com/redpandadata/redpanda:v24.2.4";
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
    new GenericContainer(REDPANDA_IMAGE)
      .withNetwork(network)
      .withNetworkAliases("redpanda")
      .withExposedPorts({ container: 9092, host: kafkaPort })
      .withCommand([
        "redpanda",
        "start",
        "--mode=dev-container",
        "--smp=1",
        "--memory=1G",
        "--kafka-addr=internal://0.0.0.0:29092,external://0.0.0.0:9092",
        `--advertise-kafka-addr=internal://redpanda:29092,external://${host}:${kafkaPort}`,
      ])
      .withWaitStrategy(Wait.forLogMessage("Successfully started Redpanda!"))
      .start(),
    new LocalstackContainer(LOCALSTACK_IMAGE)
      .withNetwork(network)
      .withNetworkAliases("localstack")
      .withEnvironment({
        ...LOCALSTACK_TEST_ENV,
        LOCALSTACK_AUTH_TOKEN: process.env.LOCALSTACK_AUTH_TOKEN ?? "",
        LAMBDA_DOCKER_NETWORK: network.getName(),
        LAMBDA_IGNORE_ARCHITECTURE: "1",
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
    databaseUrl: () => databaseUrl,
    kafkaBrokers: [`${host}:${kafkaPort}`],
    devFunctionDatabaseUrl: "postgres://postgres:postgres@pgbouncer:6432/ledger",
    poolerAddress: "pgbouncer:6432",
    deployEnv: { LOCALSTACK_ENDPOINT: endpoint },
    output: async () => "",
    stop: async () => {
      await Promise.allSettled([localstack.stop(), redpanda.stop(), pgbouncer.stop(), postgres.stop()]);
      await network.stop();
    },
  };
}

function dockerSocket(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
}
