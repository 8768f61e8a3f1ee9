import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { describe, expect, it } from "vitest";
import { readTrailerStatus, statusFrom, statusHeaders, trailerFrame } from "../../lib/rpc/trailers.ts";

describe("trailers", () => {
  it("percent-encodes grpc-message and reads it back", () => {
    const error = new ConnectError("account 01X: not yours (50% off?)\r\nnext", Code.PermissionDenied);
    const headers = statusHeaders(error);
    expect(headers.get("grpc-status")).toBe("7");
    expect(headers.get("grpc-message")).not.toMatch(/[ \r\n]/);
    expect(statusFrom(headers)).toEqual({ code: 7, message: "account 01X: not yours (50% off?)\r\nnext" });
  });

  it("finds the trailer frame after data frames", () => {
    const data = Uint8Array.of(0, 0, 0, 0, 2, 0x08, 0x01);
    const body = Buffer.concat([data, trailerFrame(new ConnectError("gone", Code.NotFound))]);
    expect(readTrailerStatus(body)).toEqual({ code: Code.NotFound, message: "gone" });
  });

  it("reads an OK trailer, with or without custom trailers beside grpc-status", () => {
    const data = Uint8Array.of(0, 0, 0, 0, 0);
    const ok = encodeEnvelope(trailerFlag, trailerSerialize(new Headers({ "grpc-status": "0" })));
    expect(readTrailerStatus(Buffer.concat([data, ok]))).toEqual({ code: 0, message: "" });
    const custom = new Headers({ "grpc-status": "0", "x-request-cost": "3" });
    const withCustom = encodeEnvelope(trailerFlag, trailerSerialize(custom));
    expect(readTrailerStatus(Buffer.concat([data, withCustom]))).toEqual({ code: 0, message: "" });
  });

  it("reports no status for a body without a trailer frame", () => {
    expect(readTrailerStatus(Uint8Array.of(0, 0, 0, 0, 0))).toBeUndefined();
    expect(readTrailerStatus(new Uint8Array(0))).toBeUndefined();
    expect(statusFrom(new Headers())).toBeUndefined();
  });
});
