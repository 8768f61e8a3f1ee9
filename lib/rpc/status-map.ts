import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The application's say on what its errors tell the caller: the ConnectError
 * to answer with, or undefined for an error it does not recognise (a bug).
 * lib/rpc knows no application errors; the host passes this in.
 */
export type ErrorMapper = (error: unknown) => ConnectError | undefined;

/** What every caller sees for a bug: nothing about where or why. */
export const INTERNAL_MESSAGE = "internal error";

/**
 * The error to put on the wire for anything thrown while serving a call.
 * ConnectErrors pass through; anything else goes through `map`. What it does
 * not recognise, and whatever it maps to INTERNAL, is a bug: reported once
 * through `onUnexpected` and answered with a bare INTERNAL, so no stack, SQL
 * or driver text leaves the process. An UNAVAILABLE answer's cause is for the
 * log only (`onUnavailable`).
 */
export function toConnectError(
  error: unknown,
  map: ErrorMapper | undefined,
  onUnexpected: (error: unknown) => void,
  onUnavailable?: (error: ConnectError) => void,
): ConnectError {
  if (error instanceof ConnectError) return error;
  const mapped = map?.(error);
  if (!mapped || mapped.code === Code.Internal) {
    onUnexpected(error);
    return new ConnectError(INTERNAL_MESSAGE, Code.Internal);
  }
  if (mapped.code === Code.Unavailable) onUnavailable?.(mapped);
  return mapped;
}
