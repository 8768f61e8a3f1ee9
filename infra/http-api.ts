/**
 * The api's HTTP API (API Gateway v2): its access log and its per-stage
 * throttling, the service's rate limit. (With a function URL, the api in
 * LocalStack, there is no HTTP API.)
 */
import type { Deployment } from "./deployment.ts";

/** JSON access logs (the provider's log retention): the audit trail of every call. */
export const HTTP_API_ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  requestTime: "$context.requestTime",
  ip: "$context.identity.sourceIp",
  userAgent: "$context.identity.userAgent",
  routeKey: "$context.routeKey",
  protocol: "$context.protocol",
  status: "$context.status",
  responseLength: "$context.responseLength",
  responseLatencyMs: "$context.responseLatency",
  integrationLatencyMs: "$context.integration.latency",
  integrationStatus: "$context.integration.status",
  integrationRequestId: "$context.integration.requestId",
  integrationError: "$context.integration.error",
  integrationErrorMessage: "$context.integrationErrorMessage",
  error: "$context.error.message",
});

/** Extension of the framework's HTTP API stage: every route throttled to the stage's rate limit. */
export function httpApiStageThrottling(
  d: Deployment,
): Record<string, { Properties: Record<string, unknown> }> {
  if (d.apiFunctionUrl) return {};
  return {
    HttpApiStage: {
      Properties: {
        DefaultRouteSettings: {
          DetailedMetricsEnabled: true,
          ThrottlingRateLimit: d.settings.throttle.rateLimit,
          ThrottlingBurstLimit: d.settings.throttle.burstLimit,
        },
      },
    },
  };
}
