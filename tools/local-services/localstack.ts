/**
 * LocalStack next to Postgres and Redpanda containers on one Docker network,
 * as the functions deployed into LocalStack reach them (postgres:5432,
 * redpanda:29092), with Redpanda's second listener and Postgres published on
 * host ports for the caller. Needs a Docker daemon (see docker.ts).
 *
 * LOCALSTACK_AUTH_TOKEN selects the current image; without it the last free
 * build (community-archive) is used. LOCALSTACK_IMAGE overrides both.
 */
import { LocalstackContainer, type StartedLocalStackContainer } from "@testcontainers/localstack";
import { PostgreSqlContainer, type StartedPostgreSqlContainer } from "@testcontainers/postgresql";
import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from "testcontainers";
import { freePort } from "./ports.ts";

const REDPANDA_IMAGE = "docker.redpanda.com/redpandadata/redpanda:v24.2.4";

export interface LocalStackServices {
  network: StartedNetwork;
  /** Database `ledger`, user and password `postgres`; `postgres:5432` on the network. */
  postgres: StartedPostgreSqlContainer;
  redpanda: StartedTestContainer;
  localstack: StartedLocalStackContainer;
  /** Redpanda as seen from this host. */
  kafkaBrokers: string[];
  /** Stops every container and the network; never throws. */
  stop(): Promise<void>;
}

export async function startLocalStackServices(): Promise<LocalStackServices> {
  const image =
    process.env.LOCALSTACK_IMAGE ||
    (process.env.LOCALSTACK_AUTH_TOKEN
      ? "localstack/localstack:latest"
      : "localstack/localstack:community-archive");
  const network = await new Network().start();
  const runtime = await getContainerRuntimeClient();
  const host = runtime.info.containerRuntime.host;
  const kafkaPort = await freePort();
  const started = await Promise.allSettled([
    new PostgreSqlContainer("postgres:16-alpine")
      .withNetwork(network)
      .withNetworkAliases("postgres")
      .withDatabase("ledger")
      .withUsername("postgres")
      .withPassword("postgres")
      .start(),
    // Two listeners, as in docker-compose.yml: the functions use redpanda:29092, the host the published port.
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
    new LocalstackContainer(image)
      .withNetwork(network)
      .withNetworkAliases("localstack")
      .withEnvironment({
        LOCALSTACK_AUTH_TOKEN: process.env.LOCALSTACK_AUTH_TOKEN ?? "",
        LAMBDA_DOCKER_NETWORK: network.getName(),
        LAMBDA_IGNORE_ARCHITECTURE: "1",
        CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES: "1",
      })
      .withBindMounts([{ source: dockerSocket(), target: "/var/run/docker.sock" }])
      .start(),
  ]);
  const containers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stop = async () => {
    await Promise.allSettled(containers.map((c) => c.stop()));
    await network.stop().catch(() => undefined);
  };
  const [postgres, redpanda, localstack] = started;
  if (postgres.status === "rejected" || redpanda.status === "rejected" || localstack.status === "rejected") {
    await stop();
    throw started.find((s): s is PromiseRejectedResult => s.status === "rejected")?.reason;
  }
  return {
    network,
    postgres: postgres.value,
    redpanda: redpanda.value,
    localstack: localstack.value,
    kafkaBrokers: [`${host}:${kafkaPort}`],
    stop,
  };
}

/** The daemon's socket, mounted into LocalStack so it can run the Lambdas as containers. */
function dockerSocket(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
}
