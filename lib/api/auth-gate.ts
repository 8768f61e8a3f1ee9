import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { bearerToken } from "../auth/bearer-token.ts";
import { UnauthenticatedError } from "../auth/errors.ts";
import type { TokenVerifier } from "../auth/jwt-verifier.ts";
import type { Principal } from "../auth/principal.ts";
import type { RequestGate } from "../rpc/index.ts";

const principalKey = createContextKey<Principal | undefined>(undefined, { description: "principal" });

/** Verifies the bearer token before the request body is read; a refused call costs no decoding. */
export function authGate(verifier: TokenVerifier): RequestGate {
  return async (context) => {
    const token = bearerToken(context.requestHeader.get("authorization"));
    context.values.set(principalKey, await verifier.verify(token));
  };
}

/** The caller the gate verified. */
export function principalOf(context: HandlerContext): Principal {
  const principal = context.values.get(principalKey);
  // Only reachable if a service were registered without the gate.
  if (!principal) throw new UnauthenticatedError("no verified caller for this call");
  return principal;
}
