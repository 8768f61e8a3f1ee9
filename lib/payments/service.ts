import {
  DEFAULT_HOLD_MAX_MS,
  DEFAULT_PAYMENT_MIN_TIME_MS,
  LOCAL_PAGE_TOKEN_SECRET,
  type PaymentsConfig,
} from "../config.ts";
import { AlreadyExistsError, NotFoundError, ServiceError } from "../errors.ts";
import { newId } from "../ids.ts";
import { toRfc3339 } from "../time.ts";
import type { LedgerStore, WriteContext } from "./ledger-store.ts";
import type {
  Account,
  AuthorizationResult,
  AuthorizePaymentCommand,
  Balance,
  CapturePaymentCommand,
  CaptureResult,
  CreateAccountCommand,
  EntryPage,
  ListEntriesQuery,
  Payment,
  PaymentCaller,
  Refund,
  RefundPaymentCommand,
  RefundResult,
  VoidResult,
} from "./model.ts";
import { fixedPageTokenKeys, PageTokens } from "./page-token.ts";
import { captureRequestHash, refundRequestHash, requestHash } from "./request-hash.ts";
import {
  holdSeconds,
  requireUlid,
  validateAuthorizePayment,
  validateCapturePayment,
  validateCreateAccount,
  validateListEntries,
  validateRefundPayment,
} from "./validation.ts";

/** The ledger's use cases. Knows nothing of Lambda, HTTP or protobuf. */
export class PaymentService {
  /**
   * `pageTokens`: how ListLedgerEntries' page tokens are signed. The api passes
   * its configured keys (lib/api/dependencies.ts); the default, the public
   * local key, suits in-process callers (seed, tools, tests) only.
   */
  constructor(
    private readonly store: LedgerStore,
    private readonly config: PaymentsConfig,
    private readonly pageTokens: PageTokens = new PageTokens(
      fixedPageTokenKeys({ current: LOCAL_PAGE_TOKEN_SECRET }),
    ),
  ) {}

  /**
   * Idempotency keys are the caller's own: the same key of two owners names
   * two payments, and a conflict only ever names the caller's own payment.
   * Whether the caller may pay from the payer account is decided before this
   * is called (lib/api's access policy).
   */
  async authorizePayment(
    cmd: AuthorizePaymentCommand,
    caller: PaymentCaller = {},
  ): Promise<AuthorizationResult> {
    validateAuthorizePayment(cmd);
    const seconds = holdSeconds(cmd, Math.floor((this.config.holdMaxMs ?? DEFAULT_HOLD_MAX_MS) / 1000));
    const stored = await this.store.authorize({
      ...this.writeContext(caller),
      paymentId: newId(),
      eventId: newId(),
      debitEntryId: newId(),
      creditEntryId: newId(),
      idempotencyKey: cmd.idempotencyKey,
      requestHash: requestHash(cmd),
      payerAccountId: cmd.payerAccountId,
      payeeAccountId: cmd.payeeAccountId,
      amountCents: cmd.amountCents,
      currency: cmd.currency,
      description: cmd.description,
      keyTtlSeconds: this.config.idempotencyKeyTtlSeconds,
      holdSeconds: seconds,
    });
    if (stored.outcome === "KEY_CONFLICT") throw keyConflict(`payment ${stored.paymentId}`);
    // A replayed authorization or hold reports DUPLICATE (as the replaced service
    // did for payments); a replayed decline is simply the same decline again.
    const status = stored.outcome === "REPLAY" && stored.status !== "DECLINED" ? "DUPLICATE" : stored.status;
    return {
      paymentId: stored.paymentId,
      status,
      ...(stored.decline ? { decline: stored.decline } : {}),
      processedAt: toRfc3339(stored.processedAt),
      ...(stored.holdExpiresAt ? { holdExpiresAt: toRfc3339(stored.holdExpiresAt) } : {}),
    };
  }

  /**
   * Posts all or part of a hold and releases the rest. Whether the caller may
   * is decided before (lib/api's access policy). A declined capture writes
   * nothing of itself.
   */
  async capturePayment(cmd: CapturePaymentCommand, caller: PaymentCaller = {}): Promise<CaptureResult> {
    validateCapturePayment(cmd);
    const stored = await this.store.capture({
      ...this.writeContext(caller),
      paymentId: cmd.paymentId,
      eventId: newId(),
      debitEntryId: newId(),
      creditEntryId: newId(),
      idempotencyKey: cmd.idempotencyKey,
      requestHash: captureRequestHash(cmd),
      keyTtlSeconds: this.config.idempotencyKeyTtlSeconds,
      amountCents: cmd.amountCents,
    });
    if (stored.outcome === "KEY_CONFLICT") throw keyConflict(`payment ${stored.paymentId}`);
    return {
      paymentId: cmd.paymentId,
      status: stored.outcome === "REPLAY" ? "DUPLICATE" : stored.status,
      ...(stored.decline ? { decline: stored.decline } : {}),
      ...(stored.capturedCents === undefined ? {} : { capturedCents: stored.capturedCents }),
      ...(stored.releasedCents === undefined ? {} : { releasedCents: stored.releasedCents }),
      processedAt: toRfc3339(stored.processedAt),
    };
  }

  /** Releases a hold; voiding a voided one answers VOIDED again. */
  async voidPayment(paymentId: string, caller: PaymentCaller = {}): Promise<VoidResult> {
    requireUlid("payment_id", paymentId);
    const stored = await this.store.voidHold({ ...this.writeContext(caller), paymentId, eventId: newId() });
    return {
      paymentId,
      status: stored.status,
      ...(stored.decline ? { decline: stored.decline } : {}),
      ...(stored.releasedCents === undefined ? {} : { releasedCents: stored.releasedCents }),
      processedAt: toRfc3339(stored.processedAt),
    };
  }

  /** Moves money back from payee to payer. Whether the caller may is decided before (lib/api). */
  async refundPayment(cmd: RefundPaymentCommand, caller: PaymentCaller = {}): Promise<RefundResult> {
    validateRefundPayment(cmd);
    const stored = await this.store.refund({
      ...this.writeContext(caller),
      refundId: newId(),
      eventId: newId(),
      debitEntryId: newId(),
      creditEntryId: newId(),
      idempotencyKey: cmd.idempotencyKey,
      requestHash: refundRequestHash(cmd),
      keyTtlSeconds: this.config.idempotencyKeyTtlSeconds,
      paymentId: cmd.paymentId,
      amountCents: cmd.amountCents,
      description: cmd.description,
    });
    if (stored.outcome === "KEY_CONFLICT")
      throw keyConflict(stored.keyUsedBy ? `${stored.keyUsedBy} ${stored.refundId}` : stored.refundId);
    if (stored.outcome === "NOT_FOUND") throw new NotFoundError("payment", cmd.paymentId);
    return {
      refundId: stored.refundId,
      paymentId: cmd.paymentId,
      status: stored.outcome === "REPLAY" ? "DUPLICATE" : stored.status,
      ...(stored.decline ? { decline: stored.decline } : {}),
      processedAt: toRfc3339(stored.processedAt),
    };
  }

  /** What a write carries to the store; refused here, before anything is written, when no time is left. */
  private writeContext(caller: PaymentCaller): WriteContext {
    this.requireTimeToWrite(caller.deadline);
    return {
      owner: caller.owner ?? "",
      deadline: caller.deadline,
      traceparent: caller.traceparent,
      onCommitStarted: caller.onCommitStarted,
    };
  }

  /** Refuses a deadline that is past or too close to write by. */
  private requireTimeToWrite(deadline: number | undefined): void {
    if (deadline === undefined) return;
    if (deadline - Date.now() < (this.config.paymentMinTimeMs ?? DEFAULT_PAYMENT_MIN_TIME_MS)) {
      throw new ServiceError(
        "DEADLINE_EXCEEDED",
        "the call's deadline leaves too little time to make a payment; nothing was written",
      );
    }
  }

  async getPayment(paymentId: string): Promise<Payment> {
    requireUlid("payment_id", paymentId);
    const payment = await this.store.findPayment(paymentId);
    if (!payment) throw new NotFoundError("payment", paymentId);
    return payment;
  }

  /** The payment's refunds, declined ones included, oldest first. */
  async listRefunds(paymentId: string): Promise<Refund[]> {
    requireUlid("payment_id", paymentId);
    return this.store.listRefunds(paymentId);
  }

  async getAccount(accountId: string): Promise<Account> {
    requireUlid("account_id", accountId);
    const account = await this.store.findAccount(accountId);
    if (!account) throw new NotFoundError("account", accountId);
    return account;
  }

  async getAccountBalance(accountId: string): Promise<Balance> {
    requireUlid("account_id", accountId);
    const balance = await this.store.findBalance(accountId);
    if (!balance) throw new NotFoundError("account", accountId);
    return balance;
  }

  async createAccount(cmd: CreateAccountCommand): Promise<Account> {
    validateCreateAccount(cmd);
    return this.store.createAccount({ accountId: newId(), ...cmd });
  }

  /**
   * A page of the account's statement. Page tokens are bound to the account
   * and to `caller.owner` (the token subject; '' for in-process callers):
   * any other token is refused INVALID_ARGUMENT.
   */
  async listLedgerEntries(
    query: ListEntriesQuery,
    caller: Pick<PaymentCaller, "owner"> = {},
  ): Promise<EntryPage> {
    const pageSize = validateListEntries(query);
    const scope = { accountId: query.accountId, owner: caller.owner ?? "" };
    const afterEntryId = await this.pageTokens.open(scope, query.pageToken);
    // One extra row tells whether another page exists without a count query.
    const rows = await this.store.listEntries(query.accountId, pageSize + 1, afterEntryId);
    if (rows.length === 0 && !(await this.store.findAccount(query.accountId))) {
      throw new NotFoundError("account", query.accountId);
    }
    const page = rows.slice(0, pageSize);
    const last = page.at(-1);
    return {
      entries: page,
      nextPageToken: rows.length > pageSize && last ? await this.pageTokens.issue(scope, last.entryId) : "",
    };
  }
}

/** The same key of the same caller, used before with other parameters: names only the caller's own use of it. */
function keyConflict(what: string): AlreadyExistsError {
  return new AlreadyExistsError(`idempotency_key was already used for ${what} with different parameters`);
}
