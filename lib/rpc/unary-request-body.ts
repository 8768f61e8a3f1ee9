/**
 * The body of a unary gRPC-web request is exactly one message frame. Connect-ES
 * reads up to the first trailer frame and reports a missing or extra message
 * as UNIMPLEMENTED; here a client trailer frame, no message or several
 * messages are the request's fault (INVALID_ARGUMENT), found before anything is
 * decoded. Frames that do not parse (truncated, or a length beyond the body)
 * are left to Connect-ES, which names the problem precisely.
 */
import { Code, ConnectError } from "@connectrpc/connect";

const HEADER_BYTES = 5;
const TRAILER_FLAG = 0x80;

/** Why a well-framed body is not one request message, or undefined if it is (or does not frame). */
export function unaryFramingError(body: Uint8Array): ConnectError | undefined {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = 0;
  let messages = 0;
  while (offset + HEADER_BYTES <= body.length) {
    const end = offset + HEADER_BYTES + view.getUint32(offset + 1);
    if (end > body.length) return undefined;
    if ((view.getUint8(offset) & TRAILER_FLAG) !== 0) {
      return new ConnectError(
        "invalid request body: a client may not send a trailer frame; send exactly one request message",
        Code.InvalidArgument,
      );
    }
    messages += 1;
    offset = end;
  }
  if (offset !== body.length) return undefined;
  if (messages === 1) return undefined;
  return new ConnectError(
    messages === 0
      ? "invalid request body: missing request message"
      : `invalid request body: a unary call takes exactly one request message, got ${messages}`,
    Code.InvalidArgument,
  );
}
