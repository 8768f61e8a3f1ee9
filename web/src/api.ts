import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { PaymentService } from "../../lib/gen/payment/v1/payment_pb.ts";

export type WireFormat = "binary" | "text";
export type PaymentClient = Client<typeof PaymentService>;

/**
 * Every call gives up after this long (DEADLINE_EXCEEDED), so a hung request can be retried.
 * API Gateway's own limit; a cold local Lambda can take several seconds.
 */
const CALL_TIMEOUT_MS = 30_000;

/**
 * A PaymentService client over gRPC-web: binary (application/grpc-web+proto)
 * or text (application/grpc-web-text, base64), with the bearer token on every call.
 */
export function createPaymentClient(options: {
  baseUrl: string;
  format: WireFormat;
  token: () => string | undefined;
}): PaymentClient {
  const transport = createGrpcWebTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat: options.format === "binary",
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
