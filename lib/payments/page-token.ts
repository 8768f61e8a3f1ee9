import { InvalidArgumentError } from "../errors.ts";

// Opaque to callers; versioned so the format can change without breaking
// tokens held by clients across a deploy.
const PREFIX = "v1:";

export function encodePageToken(seq: bigint): string {
  return Buffer.from(`${PREFIX}${seq}`, "utf8").toString("base64url");
}

export function decodePageToken(token: string): bigint | undefined {
  if (token === "") return undefined;
  const text = Buffer.from(token, "base64url").toString("utf8");
  const digits = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : "";
  if (!/^[1-9][0-9]{0,18}$/.test(digits)) {
    throw new InvalidArgumentError("page_token", "is not a token this service issued");
  }
  return BigInt(digits);
}
