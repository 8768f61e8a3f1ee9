import { UnauthenticatedError } from "./errors.ts";

const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-_.~+/]+=*)[ \t]*$/i;

/** The token of an `Authorization: Bearer <token>` header (RFC 6750). */
export function bearerToken(authorization: string | null | undefined): string {
  if (!authorization) {
    throw new UnauthenticatedError("missing credentials: send authorization: Bearer <token>");
  }
  const match = BEARER.exec(authorization);
  if (!match?.[1]) throw new UnauthenticatedError("authorization header must be Bearer <token>");
  return match[1];
}
