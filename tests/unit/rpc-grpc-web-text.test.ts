import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeTextBody,
  encodeTextBody,
  toTextContentType,
  wireFormatOf,
} from "../../lib/rpc/grpc-web-text.ts";

const ascii = (text: string) => new TextEncoder().encode(text);

describe("wireFormatOf", () => {
  it.each([
    ["application/grpc-web", false, "application/grpc-web"],
    ["application/grpc-web+proto", false, "application/grpc-web+proto"],
    ["application/grpc-web-text", true, "application/grpc-web"],
    ["application/grpc-web-text+proto", true, "application/grpc-web+proto"],
    ["Application/GRPC-Web-Text+proto", true, "application/grpc-web+proto"],
  ])("%s -> text=%s, handled as %s", (contentType, text, binaryContentType) => {
    expect(wireFormatOf(contentType)).toEqual({ text, binaryContentType });
  });

  it.each([
    null,
    undefined,
    "",
    "application/json",
    "application/grpc",
    "application/grpc-web+thrift",
    "text/plain",
    "application/grpc-web+json",
    "application/grpc-web-text+json",
  ])("%s is not gRPC-web with protobuf", (contentType) => {
    expect(wireFormatOf(contentType)).toBeUndefined();
  });

  it("names the text flavour of a binary response type", () => {
    expect(toTextContentType("application/grpc-web+proto")).toBe("application/grpc-web-text+proto");
  });
});

describe("text bodies", () => {
  it("round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(Buffer.from(decodeTextBody(ascii(encodeTextBody(bytes))))).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it("decodes separately padded chunks sent back to back", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), (chunks) => {
        const text = chunks.map((chunk) => Buffer.from(chunk).toString("base64")).join("");
        expect(Buffer.from(decodeTextBody(ascii(text)))).toEqual(Buffer.concat(chunks));
      }),
    );
  });

  it.each(["abc", "ab=c", "a===", "!!!!", "YQ==\n", "YWJj YWJj", "=AAA"])(
    "refuses %j as INVALID_ARGUMENT",
    (text) => {
      const error = (() => {
        try {
          decodeTextBody(ascii(text));
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    },
  );
});
