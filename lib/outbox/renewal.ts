/** A running renewal loop; stop() ends it once the renewal in flight, if any, has settled. */
export interface Renewal {
  stop(): Promise<void>;
}

/**
 * Calls `renew` every `periodMs` until stopped, one call at a time: a slow
 * renewal (Postgres restarting) is not stacked on, and the next tick tries
 * again. `renew` handles its own failures; a rejection is dropped here only
 * so that it can never crash the process.
 */
export function renewEvery(periodMs: number, renew: () => Promise<void>): Renewal {
  let renewing: Promise<void> = Promise.resolve();
  let inFlight = false;
  const timer = setInterval(
    () => {
      if (inFlight) return;
      inFlight = true;
      renewing = renew()
        .catch(() => undefined)
        .finally(() => {
          inFlight = false;
        });
    },
    Math.max(1, Math.floor(periodMs)),
  );
  return {
    stop: async () => {
      clearInterval(timer);
      await renewing;
    },
  };
}
