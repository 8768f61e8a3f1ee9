/**
 * The api handler on a fresh ledger database, with test auth settings and
 * a helper to mint tokens. API Gateway events and gRPC-web frames come from
 * tools/local-services/grpc-web-events.ts.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { type ApiDependencies, type ApiHandler, createApiHandler } from "../../lib/api/create-api-handler.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { type ApiConfig, type AuthConfig, apiConfig, authConfig } from "../../lib/config.ts";
import { pingDatabase } from "../../lib/db/ping.ts";
import { AuthorizePaymentRequestSchema } from "../../lib/gen/payment/v1/payment_pb.ts";
import { createLogger } from "../../lib/logging.ts";
import { frame, grpcWebEvent } from "../../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../../tools/local-services/lambda-http.ts";
import { type LedgerFixture, ledgerFixture } from "./ledger.ts";

export const TEST_AUTH: AuthConfig = authConfig({
  JWT_SECRET: "test-secret-for-the-api-tests-0123456789",
  JWT_ISSUER: "https://issuer.test",
  JWT_AUDIENCE: "payment-ledger-test",
});

export const TEST_ORIGIN = "https://app.example.test";

export function testApiConfig(overrides: Partial<ApiConfig> = {}): ApiConfig {
  return { ...apiConfig({ CORS_ALLOWED_ORIGINS: TEST_ORIGIN }), ...overrides };
}

/** Logs go nowhere unless a test asks; LOG_TESTS=1 shows them. */
export function testLogger(): Logger {
  return createLogger({ function: "api", logLevel: process.env.LOG_TESTS ? "DEBUG" : "SILENT", env: {} });
}

export interface ApiFixture {
  fx: LedgerFixture;
  handler: ApiHandler;
  token(subject: string, options?: { operator?: boolean; ttlSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function apiFixture(overrides: Partial<ApiDependencies> = {}): Promise<ApiFixture> {
  const fx = await ledgerFixture();
  const handler = createApiHandler({
    service: fx.service,
    verifier: createTokenVerifier(TEST_AUTH),
    healthProbe: () => pingDatabase(fx.pool, 1000),
    config: testApiConfig(),
    logger: testLogger(),
    ...overrides,
  });
  return {
    fx,
    handler,
    token: (subject, options = {}) => signLocalToken(TEST_AUTH, { subject, ...options }),
    close: () => fx.close(),
  };
}

export async function invoke(
  handler: ApiHandler,
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  return handler(event, lambdaContext());
}

/** One AuthorizePayment as API Gateway hands it to the api: gRPC-web binary, the bearer token, any other headers. */
export function authorizePaymentEvent(
  token: string,
  request: MessageInitShape<typeof AuthorizePaymentRequestSchema>,
  headers: Record<string, string> = {},
): APIGatewayProxyEventV2 {
  const body = toBinary(AuthorizePaymentRequestSchema, create(AuthorizePaymentRequestSchema, request));
  return grpcWebEvent("/payment.v1.PaymentService/AuthorizePayment", {
    body: frame(body),
    headers: { authorization: `Bearer ${token}`, ...headers },
  });
}
