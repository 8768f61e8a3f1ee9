/**
 * The body of a call with a unary request (unary and server-streaming
 * methods) is exactly one message frame. This finds, before anything is
 * decoded, what the gRPC rules answer without looking inside a message:
 *
 * - no message, or more than one: UNIMPLEMENTED (the rules' code for a
 *   cardinality violation, as Connect-ES and grpc-go answer it);
 * - a compressed message, when this server negotiates no compression: INTERNAL
 *   (what grpc-go answers for a compressed message it cannot decompress);
 * - a client-sent trailer frame: INVALID_ARGUMENT (gRPC-web trailers go from
 *   server to client only, so the body is malformed).
 *
 * Frames that do not parse (truncated, or a length beyond the body) are left
 * to Connect-ES, which names the problem precisely.
 */
import { Code, ConnectError } from "@connectrpc/connect";

const HEADER_BYTES = 5;
const COMPRESSED_FLAG = 0x01;
const TRAILER_FLAG = 0x80;

/** Why a well-framed body is not one plain request message, or undefined if it is (or does not frame). */
export function unaryFramingError(body: Uint8Array): ConnectError | undefined {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = 0;
  let messages = 0;
  let compressed = false;
  while (offset + HEADER_BYTES <= body.length) {
    const end = offset + HEADER_BYTES + view.getUint32(offset + 1);
    if (end > body.length) return undefined;
    const flags = view.getUint8(offset);
    if ((flags & TRAILER_FLAG) !== 0) {
      return new ConnectError(
        "invalid request body: a client may not send a trailer frame; send exactly one request message",
        Code.InvalidArgument,
      );
    }
    if ((flags & COMPRESSED_FLAG) !== 0) compressed = true;
    messages += 1;
    offset = end;
  }
  if (offset !== body.length) return undefined;
  if (messages !== 1) {
    return new ConnectError(
      messages === 0
        ? "protocol error: missing request message"
        : `protocol error: the method takes exactly one request message, got ${messages}`,
      Code.Unimplemented,
    );
  }
  if (compressed) {
    return new ConnectError(
      "protocol error: received a compressed message, but no compression was negotiated",
      Code.Internal,
    );
  }
  return undefined;
}
