import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";

export interface HealthOptions {
  /** True when every dependency needed to serve answers; must settle quickly and never throw. */
  probe(): Promise<boolean>;
  /** Fully qualified names of the services served, which probes may ask about by name. */
  services: string[];
}

/** grpc.health.v1.Health/Check; Watch stays unimplemented (a Lambda cannot hold a stream open). */
export function healthService(options: HealthOptions): Partial<ServiceImpl<typeof Health>> {
  const known = new Set(["", ...options.services]);
  return {
    async check(request) {
      if (!known.has(request.service)) {
        throw new ConnectError(`service "${request.service}" is not served here`, Code.NotFound);
      }
      const serving = await options.probe();
      return {
        status: serving
          ? HealthCheckResponse_ServingStatus.SERVING
          : HealthCheckResponse_ServingStatus.NOT_SERVING,
      };
    },
  };
}
