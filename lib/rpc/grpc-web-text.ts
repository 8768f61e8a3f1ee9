/**
 * gRPC-web text mode ("application/grpc-web-text"): the same frames as the
 * binary mode, base64-encoded in both directions. Connect-ES serves only the
 * binary mode, so the gateway transcodes around it with these helpers.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { parseContentType } from "@connectrpc/connect/protocol-grpc-web";

export interface WireFormat {
  /** The client speaks text mode: base64 bodies both ways. */
  text: boolean;
  /** The binary-mode content type to hand to the Connect handler. */
  binaryContentType: string;
}

const TEXT_TYPE = /^application\/grpc-web-text/i;
const BINARY_TYPE = /^application\/grpc-web/i;

/**
 * The request's gRPC-web flavour, or undefined if the content type is not
 * gRPC-web with protobuf. The +json codecs Connect-ES could serve are refused
 * like any other type (HTTP 415): the contract is protobuf, and a second codec
 * is a second parser for hostile input that no documented client needs.
 */
export function wireFormatOf(contentType: string | null | undefined): WireFormat | undefined {
  if (!contentType) return undefined;
  const parsed = parseContentType(contentType);
  if (!parsed?.binary) return undefined;
  return {
    text: parsed.text,
    binaryContentType: parsed.text ? contentType.replace(TEXT_TYPE, "application/grpc-web") : contentType,
  };
}

export function toTextContentType(binaryContentType: string): string {
  return binaryContentType.replace(BINARY_TYPE, "application/grpc-web-text");
}

// Whole quartets only; a quartet may end in padding, which closes one chunk.
const BASE64_QUARTETS = /^(?:[A-Za-z0-9+/]{2}(?:[A-Za-z0-9+/]{2}|[A-Za-z0-9+/]=|==))*$/;
// Split after a padding run that is followed by more data.
const CHUNK_BOUNDARY = /(?<==)(?=[^=])/;

/**
 * Decodes a text-mode request body. The spec lets clients send several
 * base64 chunks back to back, each with its own padding, so padded chunks
 * are decoded one by one. Anything that is not whole base64 quartets is
 * refused rather than silently skipped, as Node's lenient decoder would.
 */
export function decodeTextBody(body: Uint8Array): Uint8Array {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("latin1");
  if (!BASE64_QUARTETS.test(text)) {
    throw new ConnectError("grpc-web-text request body is not valid base64", Code.InvalidArgument);
  }
  if (!text.includes("=") || text.indexOf("=") >= text.length - 2) return Buffer.from(text, "base64");
  return Buffer.concat(text.split(CHUNK_BOUNDARY).map((chunk) => Buffer.from(chunk, "base64")));
}

export function encodeTextBody(body: Uint8Array): string {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("base64");
}
