/** The payment rules' settings, and the ledger store's. */
import { type ConfigOf, declare, duration, type Env, integer, readAll } from "./declare.ts";

/** PAYMENT_MIN_TIME_MS's default, also for a PaymentService built without the setting (tests, benchmarks). */
export const DEFAULT_PAYMENT_MIN_TIME_MS = 50;

/** HOLD_MAX_DURATION's default, also for a PaymentService built without the setting (tests, benchmarks). */
export const DEFAULT_HOLD_MAX_MS = 7 * 86_400_000;

export const PAYMENTS = {
  idempotencyKeyTtlSeconds: declare("IDEMPOTENCY_KEY_TTL_SECONDS", integer(1), {
    default: 86_400,
    doc: "how long an idempotency key is remembered.",
    readBy: ["api", "scripts"],
  }),
  paymentMinTimeMs: declare("PAYMENT_MIN_TIME_MS", integer(0, 60_000), {
    default: DEFAULT_PAYMENT_MIN_TIME_MS,
    doc:
      "the time a payment needs. A call whose deadline leaves less is refused DEADLINE_EXCEEDED before " +
      "anything is written, instead of racing its commit against the client's timer.",
    readBy: ["api", "scripts"],
  }),
  holdMaxMs: declare("HOLD_MAX_DURATION", duration, {
    default: DEFAULT_HOLD_MAX_MS,
    doc:
      "the longest a hold (AuthorizePayment with `hold`) stays capturable, like a card authorization's " +
      "validity; a request for longer is refused INVALID_ARGUMENT, and 0 asks for exactly this. Whole " +
      "seconds count.",
    readBy: ["api", "scripts"],
  }),
};

/** paymentMinTimeMs and holdMaxMs may be left out: their defaults. */
export type PaymentsConfig = Omit<ConfigOf<typeof PAYMENTS>, "paymentMinTimeMs" | "holdMaxMs"> &
  Partial<Pick<ConfigOf<typeof PAYMENTS>, "paymentMinTimeMs" | "holdMaxMs">>;

export function paymentsConfig(env: Env): PaymentsConfig {
  return readAll(env, PAYMENTS);
}

export const LEDGER = {
  rollUpEvery: declare("LEDGER_ROLL_UP_EVERY", integer(0), {
    default: 256,
    doc:
      "after this many payments a container authorizes, it folds hot accounts' pending credits into their " +
      "balance rows, so a balance read sums at most a few hundred of them per container. 0 turns it off.",
    readBy: ["api"],
  }),
};

export type LedgerConfig = ConfigOf<typeof LEDGER>;

export function ledgerConfig(env: Env): LedgerConfig {
  return readAll(env, LEDGER);
}
