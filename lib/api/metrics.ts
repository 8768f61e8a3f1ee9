/**
 * The api's metrics: every call by method and gRPC code with its latency, and
 * every payment decision by status and decline reason. Methods outside the
 * served set are counted as "unknown" so a caller cannot mint dimensions.
 */
import { Code } from "@connectrpc/connect";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { PaymentService } from "../gen/payment/v1/payment_pb.ts";
import type { MetricsRecorder } from "../observability/metrics.ts";
import type { AuthorizationResult } from "../payments/model.ts";

export interface ApiMetrics {
  call(path: string, grpcCode: number | undefined, durationMs: number): void;
  payment(result: AuthorizationResult): void;
}

/** gRPC's canonical name of a status code: 3 -> INVALID_ARGUMENT. */
export function grpcCodeName(code: number | undefined): string {
  if (code === undefined || code === 0) return "OK";
  const name = Code[code];
  return name ? name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase() : "UNKNOWN";
}

// Codes that mean the service failed, not the caller.
const SERVER_ERRORS: ReadonlySet<string> = new Set(["INTERNAL", "UNAVAILABLE", "UNKNOWN", "DATA_LOSS"]);

// The only method names counted by name.
const SERVED_METHODS: ReadonlySet<string> = new Set([
  ...PaymentService.methods.map((m) => m.name),
  ...Health.methods.map((m) => m.name),
]);

export function apiMetrics(
  recorder: MetricsRecorder,
  methods: ReadonlySet<string> = SERVED_METHODS,
): ApiMetrics {
  return {
    call(path, grpcCode, durationMs) {
      const method = path.slice(path.lastIndexOf("/") + 1);
      const dimensions = { method: methods.has(method) ? method : "unknown", code: grpcCodeName(grpcCode) };
      recorder.count("RpcCalls", dimensions);
      recorder.milliseconds("RpcLatency", dimensions, durationMs);
      // One series across methods, for the api's error-rate alarm.
      if (SERVER_ERRORS.has(dimensions.code)) recorder.count("RpcServerErrors", {});
    },
    payment(result) {
      recorder.count("Payments", { status: result.status, reason: result.decline?.code ?? "NONE" });
    },
  };
}
