import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { PaymentService } from "../../lib/gen/payment/v1/payment_pb.ts";

export type PaymentClient = Client<typeof PaymentService>;

/**
 * Every call gives up after this long (DEADLINE_EXCEEDED), so a hung request can be retried.
 * API Gateway's own limit; a cold local Lambda can take several seconds.
 */
const CALL_TIMEOUT_MS = 30_000;

/**
 * A PaymentService client over gRPC-web binary (application/grpc-web+proto),
 * with the bearer token on every call. connect-web has no grpc-web-text mode:
 * its non-binary setting is JSON (application/grpc-web+json), which the api
 * refuses (415) because its contract is protobuf.
 */
export function createPaymentClient(options: {
  baseUrl: string;
  token: () => string | undefined;
}): PaymentClient {
  const transport = createGrpcWebTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat: true,
    defaultTimeoutMs: CALL_TIMEOUT_MS,
    interceptors: [
      (next) => (req) => {
        const token = options.token();
        if (token) req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  return createClient(PaymentService, transport);
}
