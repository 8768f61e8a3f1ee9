import { type Logger, LogLevelThreshold } from "@aws-lambda-powertools/logger";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type { TokenVerifier } from "../auth/jwt-verifier.ts";
import type { ApiConfig } from "../config.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { PaymentService as PaymentServiceProto } from "../gen/payment/v1/payment_pb.ts";
import { createLogger, loggable } from "../logging.ts";
import type { LambdaTracing } from "../observability/lambda-tracing.ts";
import type { MetricsRecorder } from "../observability/metrics.ts";
import { continueOrStartInXRay } from "../observability/xray-ids.ts";
import type { AuthorizationResult } from "../payments/model.ts";
import type { PaymentService } from "../payments/service.ts";
import {
  createCorsPolicy,
  createGrpcWebGateway,
  type Gateway,
  healthService,
  lambdaHandler,
} from "../rpc/index.ts";
import { AccessPolicy } from "./access-policy.ts";
import { authGate } from "./auth-gate.ts";
import { callTrace } from "./call-trace.ts";
import { connectErrorOf } from "./error-mapping.ts";
import { type ApiMetrics, apiMetrics } from "./metrics.ts";
import { corsMiddleware } from "./middleware/cors.ts";
import { errorBoundary } from "./middleware/error-boundary.ts";
import { requestLogging } from "./middleware/request-logging.ts";
import { traceAnnotation } from "./middleware/trace-annotation.ts";
import { paymentServiceImpl } from "./payment-service-impl.ts";

export interface ApiDependencies {
  service: PaymentService;
  verifier: TokenVerifier;
  /** True when the ledger database answers; quick, never throws. */
  healthProbe(): Promise<boolean>;
  config: ApiConfig;
  logger?: Logger;
  /**
   * Told of every committed payment decision (e.g. to nudge the outbox drain),
   * after the answer is final; it never changes the answer.
   */
  afterAuthorize?(result: AuthorizationResult): Promise<unknown> | undefined;
  /** Told after a capture, void or refund wrote its event (the outbox nudge); never changes the answer. */
  afterWrite?(): Promise<unknown> | undefined;
  /**
   * How long an answer may wait for that (default 0), never into the last
   * LAMBDA_DEADLINE_MARGIN_MS of the call's deadline: Lambda freezes what is
   * still running once the handler returns.
   */
  afterResponseMs?: number;
  /** Where calls and payment decisions are counted (EMF in the Lambda); none when absent. */
  metrics?: MetricsRecorder;
  /** X-Ray (lib/observability/lambda-tracing.ts); none when tracing is off. */
  tracing?: LambdaTracing;
}

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** The cause's name, SQLSTATE/errno code and message: never a connection string or a secret value. */
function causeOf(error: Error): Record<string, unknown> | undefined {
  const cause = error.cause;
  if (!(cause instanceof Error)) return undefined;
  const code = (cause as { code?: unknown }).code;
  return { name: cause.name, ...(typeof code === "string" ? { code } : {}), message: cause.message };
}

/** The gRPC-web gateway serving PaymentService (authenticated) and Health (open to probes). */
export function createApiGateway(deps: ApiDependencies, logger: Logger, metrics?: ApiMetrics): Gateway {
  const access = new AccessPolicy(deps.service);
  const afterAuthorize =
    metrics || deps.afterAuthorize
      ? (result: AuthorizationResult) => {
          metrics?.payment(result);
          return deps.afterAuthorize?.(result);
        }
      : undefined;
  return createGrpcWebGateway(
    {
      maxRequestBytes: deps.config.maxRequestBytes,
      mapError: connectErrorOf,
      onUnexpectedError: (error, procedure) =>
        logger.error("unexpected error", { procedure, error: loggable(error) }),
      // The caller got only "retry later": what was down, and what it said, goes here.
      onUnavailable: (error, procedure) =>
        logger.warn("dependency unavailable", {
          procedure,
          error: error.rawMessage,
          cause: error.cause instanceof Error ? causeOf(error.cause) : undefined,
        }),
    },
    (services) =>
      services
        .add(
          PaymentServiceProto,
          paymentServiceImpl(deps.service, access, {
            ...(afterAuthorize ? { afterAuthorize } : {}),
            ...(deps.afterWrite ? { afterWrite: deps.afterWrite } : {}),
          }),
          { requestGate: authGate(deps.verifier) },
        )
        .add(Health, healthService({ probe: deps.healthProbe, services: [PaymentServiceProto.typeName] })),
  );
}

/** The gateway behind the Lambda adapter: events in, results out, without middy's middlewares. */
export function createApiLambda(deps: ApiDependencies, logger: Logger, metrics?: ApiMetrics): ApiHandler {
  const gateway = createApiGateway(deps, logger, metrics);
  return lambdaHandler(gateway, {
    deadlineMarginMs: deps.config.deadlineMarginMs,
    afterResponseMs: deps.afterResponseMs ?? 0,
    // With X-Ray on, a call without a traceparent is in the invocation's X-Ray trace.
    contextValues: callTrace(logger, deps.tracing ? continueOrStartInXRay : undefined),
    onResponse: (request, response, durationMs) => {
      metrics?.call(request.path, response.grpc?.code, durationMs);
      // The line is built only when it will be printed (no log buffer is configured: lib/logging.ts).
      if (logger.level > LogLevelThreshold.INFO) return;
      logger.info("rpc", {
        procedure: request.path,
        httpStatus: response.status,
        grpcStatus: response.grpc?.code,
        ...(response.grpc?.code ? { grpcMessage: response.grpc.message } : {}),
        durationMs: Math.round(durationMs * 100) / 100,
      });
    },
  });
}

/** The api Lambda: middy around the gateway; build it once per container. */
export function createApiHandler(deps: ApiDependencies): ApiHandler {
  // Without one (tests), a logger under the default service name.
  const logger = deps.logger ?? createLogger({ function: "api", env: {} });
  const metrics = deps.metrics ? apiMetrics(deps.metrics) : undefined;
  const base = createApiLambda(deps, logger, metrics);
  const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(base);
  // Outermost, so the invocation's subsegment spans every other middleware.
  if (deps.tracing) handler.use(deps.tracing.middleware).use(traceAnnotation(deps.tracing));
  return handler
    .use(requestLogging(logger))
    .use(
      corsMiddleware(
        createCorsPolicy({
          allowedOrigins: deps.config.corsAllowedOrigins,
          maxAgeSeconds: deps.config.corsMaxAgeSeconds,
        }),
      ),
    )
    .use(errorBoundary(logger));
}
