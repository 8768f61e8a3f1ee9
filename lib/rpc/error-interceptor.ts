import type { Interceptor } from "@connectrpc/connect";
import type { ServiceError } from "../errors.ts";
import { markStage } from "./call-stage.ts";
import { toConnectError } from "./status-map.ts";

/**
 * Outermost interceptor: marks the call as reaching the implementation and
 * turns whatever it throws into a ConnectError with a precise code (domain
 * errors) or a bare INTERNAL (bugs, reported through `onUnexpected`).
 */
export function errorInterceptor(
  onUnexpected: (error: unknown, procedure: string) => void,
  onUnavailable?: (error: ServiceError, procedure: string) => void,
): Interceptor {
  return (next) => async (req) => {
    markStage(req.contextValues, "invoked");
    try {
      return await next(req);
    } catch (error) {
      const procedure = `/${req.service.typeName}/${req.method.name}`;
      throw toConnectError(
        error,
        (e) => onUnexpected(e, procedure),
        (e) => onUnavailable?.(e, procedure),
      );
    }
  };
}
