import { Code, ConnectError } from "@connectrpc/connect";

/** A failed call as the page shows it: the gRPC status name and the server's message. */
export interface RpcFailure {
  /** e.g. INVALID_ARGUMENT */
  status: string;
  message: string;
  /**
   * The request may never have reached the server, or its answer was lost:
   * the outcome is unknown and only a retry with the same idempotency key is safe.
   */
  outcomeUnknown: boolean;
}

/** Code.InvalidArgument → "INVALID_ARGUMENT", the name gRPC documents. */
export function statusName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export function describeRpcError(error: unknown): RpcFailure {
  const connectError = ConnectError.from(error);
  // fetch() rejects with a TypeError when no HTTP answer arrived at all (offline, reset, CORS).
  const noAnswer = connectError.code === Code.Unknown && connectError.cause instanceof TypeError;
  const outcomeUnknown =
    noAnswer || connectError.code === Code.Unavailable || connectError.code === Code.DeadlineExceeded;
  return {
    status: statusName(connectError.code),
    message: connectError.rawMessage || "(no message)",
    outcomeUnknown,
  };
}

export function formatRpcFailure(failure: RpcFailure): string {
  return `${failure.status}: ${failure.message}`;
}
