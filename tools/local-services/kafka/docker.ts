import { RedpandaContainer } from "@testcontainers/redpanda";

const DEFAULT_REDPANDA_IMAGE = "docker.redpanda.com/redpandadata/redpanda:v24.2.4";

export interface StartedRedpanda {
  brokers: string[];
  description: string;
  stop(): Promise<void>;
}

export async function startRedpanda(): Promise<StartedRedpanda> {
  const image = process.env.REDPANDA_IMAGE?.trim() || DEFAULT_REDPANDA_IMAGE;
  const container = await new RedpandaContainer(image).start();
  return {
    brokers: [container.getBootstrapServers()],
    description: `Redpanda container ${image}`,
    stop: async () => {
      await container.stop();
    },
  };
}
