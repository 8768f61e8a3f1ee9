import { createHash } from "node:crypto";
import type { AuthorizePaymentCommand } from "./model.ts";

/**
 * Fingerprint of everything an idempotency key promises: a replay must match
 * it exactly. JSON of a fixed-order tuple, so no separator can be forged.
 */
export function requestHash(cmd: AuthorizePaymentCommand): string {
  const canonical = JSON.stringify([
    cmd.payerAccountId,
    cmd.payeeAccountId,
    cmd.amountCents.toString(),
    cmd.currency,
    cmd.description,
  ]);
  return createHash("sha256").update(canonical).digest("base64url");
}
