import { InvalidArgumentError } from "../errors.ts";

// Opaque to callers; versioned so the format can change without breaking
// tokens held by clients across a deploy.
const PREFIX = "v1:";
// Statement positions are Postgres bigints; anything larger was never issued.
const MAX_SEQ = 9_223_372_036_854_775_807n;

export function encodePageToken(seq: bigint): string {
  return Buffer.from(`${PREFIX}${seq}`, "utf8").toString("base64url");
}

export function decodePageToken(token: string): bigint | undefined {
  if (token === "") return undefined;
  const text = Buffer.from(token, "base64url").toString("utf8");
  const digits = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : "";
  const seq = /^[1-9][0-9]{0,18}$/.test(digits) ? BigInt(digits) : undefined;
  if (seq === undefined || seq > MAX_SEQ) {
    throw new InvalidArgumentError("page_token", "is not a token this service issued");
  }
  return seq;
}
