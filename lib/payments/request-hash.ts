import { createHash } from "node:crypto";
import type { AuthorizePaymentCommand, CapturePaymentCommand, RefundPaymentCommand } from "./model.ts";

/**
 * Fingerprints of everything an idempotency key promises: a replay must match
 * exactly. JSON of a fixed-order tuple, so no separator can be forged. Keys of
 * one owner are one scope across calls, so each call's tuple starts
 * differently (an account id, "capture", "refund"): a key used by one call is
 * refused by another as different parameters.
 */
function fingerprint(tuple: unknown[]): string {
  return createHash("sha256").update(JSON.stringify(tuple)).digest("base64url");
}

/** A payment without `hold` hashes exactly as before holds existed, so older keys still replay. */
export function requestHash(cmd: AuthorizePaymentCommand): string {
  return fingerprint([
    cmd.payerAccountId,
    cmd.payeeAccountId,
    cmd.amountCents.toString(),
    cmd.currency,
    cmd.description,
    ...(cmd.hold ? ["hold", cmd.hold.expiresInSeconds] : []),
  ]);
}

export function captureRequestHash(cmd: CapturePaymentCommand): string {
  return fingerprint(["capture", cmd.paymentId, cmd.amountCents.toString()]);
}

export function refundRequestHash(cmd: RefundPaymentCommand): string {
  return fingerprint(["refund", cmd.paymentId, cmd.amountCents.toString(), cmd.description]);
}
