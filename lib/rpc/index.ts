/**
 * The public surface of lib/rpc: a gRPC-web server for Lambda, knowing no
 * payments. Code outside lib/rpc imports from here only; the other files are
 * its internals (their unit tests, tests/unit/rpc-*, reach in on purpose).
 */
export { type AfterResponse, afterResponse, callDeadline, markTakenEffect } from "./call-context.ts";
export {
  ALLOWED_HEADERS,
  ALLOWED_METHODS,
  type CorsOptions,
  type CorsPolicy,
  createCorsPolicy,
  EXPOSED_HEADERS,
} from "./cors-policy.ts";
export {
  createGrpcWebGateway,
  createGrpcWebRoutes,
  type Gateway,
  type GatewayOptions,
  type RequestBody,
  type RequestGate,
  type RpcRequest,
  type RpcResponse,
  type ServiceRegistry,
  trailersOnly,
} from "./grpc-web-gateway.ts";
export { type WireFormat, wireFormatOf } from "./grpc-web-text.ts";
export { type HealthOptions, healthService } from "./health-service.ts";
export {
  type LambdaHandlerOptions,
  lambdaHandler,
  lambdaResultFrom,
  rpcRequestFromEvent,
} from "./lambda-adapter.ts";
export { type ErrorMapper, INTERNAL_MESSAGE } from "./status-map.ts";
