/**
 * gRPC-web status trailers, built and read with Connect-ES's own trailer
 * codec so what the gateway writes itself matches what Connect writes.
 */
import { Code, type ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import {
  headerGrpcMessage,
  headerGrpcStatus,
  setTrailerStatus,
  trailerFlag,
  trailerParse,
  trailerSerialize,
} from "@connectrpc/connect/protocol-grpc-web";

/** 0 is OK; other values are gRPC status codes. */
export interface CallStatus {
  code: number;
  message: string;
}

/** grpc-status and grpc-message (percent-encoded) for the given error. */
export function statusHeaders(error: ConnectError): Headers {
  return setTrailerStatus(new Headers(), error);
}

/** A complete gRPC-web trailer frame carrying the error's status. */
export function trailerFrame(error: ConnectError): Uint8Array {
  return encodeEnvelope(trailerFlag, trailerSerialize(statusHeaders(error)));
}

const PREFIX_BYTES = 5;

// What Connect writes for a call that ended OK with no custom trailers: most
// calls. Recognising it spares building a Headers object to read it back.
// Built on first use: importing this module touches no Headers (the host
// decides when Node loads its fetch implementation; functions/api/handler.ts).
let okTrailer: Uint8Array | undefined;

/**
 * The status in the trailer frame of a buffered gRPC-web response body, or
 * undefined if there is none. Walks the frames by their length prefixes; this
 * reads the gateway's own output, never client input.
 */
export function readTrailerStatus(body: Uint8Array): CallStatus | undefined {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = 0;
  while (offset + PREFIX_BYTES <= body.byteLength) {
    const flags = view.getUint8(offset);
    const length = view.getUint32(offset + 1);
    const start = offset + PREFIX_BYTES;
    if ((flags & trailerFlag) === trailerFlag) {
      const trailer = body.subarray(start, start + length);
      return isOkTrailer(trailer) ? { code: 0, message: "" } : statusFrom(trailerParse(trailer));
    }
    offset = start + length;
  }
  return undefined;
}

function isOkTrailer(trailer: Uint8Array): boolean {
  okTrailer ??= trailerSerialize(new Headers({ [headerGrpcStatus]: "0" }));
  if (trailer.byteLength !== okTrailer.byteLength) return false;
  for (let i = 0; i < trailer.byteLength; i++) if (trailer[i] !== okTrailer[i]) return false;
  return true;
}

/** The status in grpc-status / grpc-message headers (trailers-only responses). */
export function statusFrom(headers: Headers): CallStatus | undefined {
  const raw = headers.get(headerGrpcStatus);
  if (raw === null) return undefined;
  const code = Number.parseInt(raw, 10);
  const message = headers.get(headerGrpcMessage) ?? "";
  return {
    code: Number.isInteger(code) ? code : Code.Unknown,
    message: safeDecode(message),
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
