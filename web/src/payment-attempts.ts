/**
 * Idempotency keys for payments made from the page. A key names one intended
 * payment: every send of it (automatic retries, a second click on Pay with
 * the same details after a lost answer, an explicit replay) carries the same
 * key, so the ledger moves the money at most once. New details, or an outcome
 * that is known, mean a new key.
 */
import { ulid } from "ulid";
import { describeRpcError, type RpcFailure } from "./rpc-error.ts";

export interface PaymentFields {
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  currency: string;
  description: string;
  /** Present: a hold of this many seconds (0: the longest allowed) instead of a payment. */
  holdSeconds?: number;
}

export interface PaymentAttempt {
  idempotencyKey: string;
  fields: PaymentFields;
}

function sameFields(a: PaymentFields, b: PaymentFields): boolean {
  return (
    a.payerAccountId === b.payerAccountId &&
    a.payeeAccountId === b.payeeAccountId &&
    a.amountCents === b.amountCents &&
    a.currency === b.currency &&
    a.description === b.description &&
    a.holdSeconds === b.holdSeconds
  );
}

export class PaymentAttempts {
  private unresolved: PaymentAttempt | undefined;
  private last: PaymentAttempt | undefined;

  constructor(private readonly newKey: () => string = ulid) {}

  /** The attempt for these details; `reused` when it continues one whose outcome is unknown. */
  begin(fields: PaymentFields): { attempt: PaymentAttempt; reused: boolean } {
    if (this.unresolved && sameFields(this.unresolved.fields, fields)) {
      return { attempt: this.unresolved, reused: true };
    }
    const attempt = { idempotencyKey: this.newKey(), fields };
    this.unresolved = attempt;
    this.last = attempt;
    return { attempt, reused: false };
  }

  /** The server answered (any outcome, or a definite error): the next payment gets a new key. */
  settle(attempt: PaymentAttempt): void {
    if (this.unresolved === attempt) this.unresolved = undefined;
  }

  /** The most recent attempt, for an explicit replay with its key. */
  lastAttempt(): PaymentAttempt | undefined {
    return this.last;
  }
}

export type SendProgress =
  | { kind: "sending"; attempt: number }
  | { kind: "retrying"; attempt: number; maxAttempts: number; delayMs: number; failure: RpcFailure };

export type SendResult<T> =
  | { kind: "answered"; response: T }
  | { kind: "failed"; failure: RpcFailure; attempts: number };

export interface RetryOptions {
  maxAttempts: number;
  /** Delay before the first retry; doubled for each further one. */
  baseDelayMs: number;
  onProgress?: (progress: SendProgress) => void;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 4, baseDelayMs: 500 };

/**
 * Sends until the server gives an answer. Only failures that leave the outcome
 * unknown are retried, each time with the identical request (same key);
 * a definite error (INVALID_ARGUMENT, PERMISSION_DENIED, ...) is returned at once.
 */
export async function sendSafely<T>(send: () => Promise<T>, options: RetryOptions): Promise<SendResult<T>> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    options.onProgress?.({ kind: "sending", attempt });
    try {
      return { kind: "answered", response: await send() };
    } catch (error) {
      const failure = describeRpcError(error);
      if (!failure.outcomeUnknown || attempt >= options.maxAttempts) {
        return { kind: "failed", failure, attempts: attempt };
      }
      const delayMs = options.baseDelayMs * 2 ** (attempt - 1);
      options.onProgress?.({
        kind: "retrying",
        attempt: attempt + 1,
        maxAttempts: options.maxAttempts,
        delayMs,
        failure,
      });
      await sleep(delayMs);
    }
  }
}
