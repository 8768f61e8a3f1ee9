/**
 * Who may do what with which account. The rules, in one place:
 *
 * - A customer (non-system) account is acted on only by its owner: the token
 *   subject equal to the account's owner. Nobody else, operators included,
 *   may debit it or read it.
 * - A system account (funding; may go negative) is acted on only by
 *   operators, whoever its nominal owner is: operators fund customer accounts
 *   by paying from it and may read its balance and statement.
 * - A payment is readable by whoever may act for its payer or its payee.
 * - A hold is captured or voided by whoever may act for its payer, or an
 *   operator; a payment is refunded by whoever may act for its payee, or an
 *   operator (support staff settling a dispute). Anyone else gets
 *   PERMISSION_DENIED, and so does a payment id that does not exist, with the
 *   same message: these calls cannot be used to probe which payments exist,
 *   nor learn anything of another owner's payment through the code.
 * - Anyone may open a non-system account for themselves (an empty owner
 *   means the caller); operators may open any account for anyone, system
 *   ones included.
 * - An unknown payer account is refused exactly like someone else's
 *   (PERMISSION_DENIED, same message), so AuthorizePayment cannot be used to
 *   probe which account ids exist, and the attempt is not recorded as a
 *   declined payment. Reads of an unknown account or payment are NOT_FOUND.
 */

import { PermissionDeniedError } from "../auth/errors.ts";
import type { Principal } from "../auth/principal.ts";
import { NotFoundError } from "../errors.ts";
import type { Account, AuthorizePaymentCommand, CreateAccountCommand, Payment } from "../payments/model.ts";
import { requireUlid, validateAuthorizePayment } from "../payments/validation.ts";

/** The reads the policy needs; PaymentService provides them. */
export interface LedgerReader {
  getAccount(accountId: string): Promise<Account>;
  getPayment(paymentId: string): Promise<Payment>;
}

export class AccessPolicy {
  constructor(private readonly ledger: LedgerReader) {}

  /**
   * Refuses the payment unless the caller may debit its payer account. The
   * command is validated first, so a malformed request gets its precise
   * INVALID_ARGUMENT before any lookup. The api asks this before the domain
   * service is called; the domain never calls back for it.
   */
  async checkAuthorizePayment(principal: Principal, cmd: AuthorizePaymentCommand): Promise<void> {
    validateAuthorizePayment(cmd);
    const payer = await orUndefined(this.ledger.getAccount(cmd.payerAccountId));
    if (!payer || !mayActFor(principal, payer)) {
      throw new PermissionDeniedError(`the caller may not debit account ${cmd.payerAccountId}`);
    }
  }

  /** Refuses a capture or void unless the caller may act for the payment's payer, or is an operator. */
  async checkSettleHold(principal: Principal, paymentId: string, action: "capture" | "void"): Promise<void> {
    await this.checkPaymentParty(principal, paymentId, "payerAccountId", action);
  }

  /** Refuses a refund unless the caller may act for the payment's payee, or is an operator. */
  async checkRefund(principal: Principal, paymentId: string): Promise<void> {
    await this.checkPaymentParty(principal, paymentId, "payeeAccountId", "refund");
  }

  /** The account, if the caller may read it. */
  async readableAccount(principal: Principal, accountId: string): Promise<Account> {
    const account = await this.ledger.getAccount(accountId);
    if (!mayActFor(principal, account)) {
      throw new PermissionDeniedError(`account ${accountId} belongs to another owner`);
    }
    return account;
  }

  /** The payment, if the caller may act for its payer or payee. */
  async readablePayment(principal: Principal, paymentId: string): Promise<Payment> {
    const payment = await this.ledger.getPayment(paymentId);
    if (await this.mayReadPayment(principal, payment)) return payment;
    throw new PermissionDeniedError(`payment ${paymentId} is between other owners' accounts`);
  }

  /**
   * Whether the caller may read this payment: act for its payer or its payee
   * (an account that does not exist counts for nobody). For whoever shows
   * payments outside a call, such as the dev server's event feed.
   */
  async mayReadPayment(
    principal: Principal,
    payment: Pick<Payment, "payerAccountId" | "payeeAccountId">,
  ): Promise<boolean> {
    for (const accountId of [payment.payerAccountId, payment.payeeAccountId]) {
      const account = await orUndefined(this.ledger.getAccount(accountId));
      if (account && mayActFor(principal, account)) return true;
    }
    return false;
  }

  /** The account to open for this caller, with the owner filled in. */
  accountToOpen(principal: Principal, request: CreateAccountCommand): CreateAccountCommand {
    const cmd = { ...request, owner: request.owner === "" ? principal.subject : request.owner };
    if (principal.operator) return cmd;
    if (cmd.system) throw new PermissionDeniedError("only operators may open system accounts");
    if (cmd.hot) throw new PermissionDeniedError("only operators may open hot accounts");
    if (cmd.owner !== principal.subject) {
      throw new PermissionDeniedError(
        "accounts may be opened only for the caller: owner must be the token subject",
      );
    }
    return cmd;
  }

  private async checkPaymentParty(
    principal: Principal,
    paymentId: string,
    party: "payerAccountId" | "payeeAccountId",
    action: string,
  ): Promise<void> {
    // A malformed id is the caller's own mistake: INVALID_ARGUMENT before any lookup.
    requireUlid("payment_id", paymentId);
    const payment = await orUndefined(this.ledger.getPayment(paymentId));
    // An operator may act on any payment: its party's account need not be read.
    const account =
      payment && !principal.operator ? await orUndefined(this.ledger.getAccount(payment[party])) : undefined;
    const allowed = principal.operator
      ? payment !== undefined
      : account !== undefined && mayActFor(principal, account);
    if (!allowed) throw new PermissionDeniedError(`the caller may not ${action} payment ${paymentId}`);
  }
}

/** What a lookup found, or undefined when there is nothing by that id. */
async function orUndefined<T>(lookup: Promise<T>): Promise<T | undefined> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

function mayActFor(principal: Principal, account: Account): boolean {
  return account.system ? principal.operator : account.owner === principal.subject;
}
