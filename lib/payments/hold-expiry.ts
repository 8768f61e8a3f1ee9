import { newId } from "../ids.ts";
import type { LedgerStore } from "./ledger-store.ts";

/**
 * Releases up to `limit` holds past their expiry, each with its
 * PaymentExpired event; how many it released (fewer than `limit`: none are
 * left). The expiry sweep's one step (lib/maintenance); no caller, key or
 * deadline of its own: it runs on a schedule, and every hold it takes is
 * one nobody else holds.
 */
export function expireDueHolds(store: Pick<LedgerStore, "expireHolds">, limit: number): Promise<number> {
  return store.expireHolds(
    Array.from({ length: limit }, () => newId()),
    { deadline: undefined },
  );
}
