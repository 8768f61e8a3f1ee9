import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { bearerToken } from "../auth/bearer-token.ts";
import { UnauthenticatedError } from "../auth/errors.ts";
import type { TokenVerifier } from "../auth/jwt-verifier.ts";
import type { Principal } from "../auth/principal.ts";
import type { RequestGate } from "../rpc/index.ts";

const principalKey = createContextKey<Principal | undefined>(undefined, { description: "principal" });

/**
 * Verifies the bearer token before the request body is read; a refused call
 * costs no decoding. A token verified before (the usual case: a client sends
 * the same one with every call) is settled without waiting.
 */
export function authGate(verifier: TokenVerifier): RequestGate {
  return (context) => {
    const token = bearerToken(context.requestHeader.get("authorization"));
    const known = verifier.verified(token);
    if (known) {
      context.values.set(principalKey, known);
      return;
    }
    return verifier.verify(token).then((principal) => {
      context.values.set(principalKey, principal);
    });
  };
}

/** The caller the gate verified. */
export function principalOf(context: HandlerContext): Principal {
  const principal = context.values.get(principalKey);
  // Only reachable if a service were registered without the gate.
  if (!principal) throw new UnauthenticatedError("no verified caller for this call");
  return principal;
}
