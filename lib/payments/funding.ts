/**
 * Funding a customer account from a system (treasury) account: how money
 * enters the ledger in the demo seed, the tests and the benchmarks. It is an
 * ordinary payment, so it leaves the same entries, balances and event as any
 * other; in production an operator does the same through the api.
 */
import { ServiceError } from "../errors.ts";
import type { Account, AuthorizationResult } from "./model.ts";
import type { PaymentService } from "./service.ts";

/** The owner of the system accounts that fund customer accounts. */
export const TREASURY_OWNER = "treasury";

/** A system account (it may go negative) that funds customer accounts in `currency`. */
export function openTreasury(service: PaymentService, currency: string): Promise<Account> {
  return service.createAccount({ owner: TREASURY_OWNER, currency, system: true });
}

export interface FundAccountCommand {
  /** The system account the money comes from. */
  treasury: Account;
  /** The account to credit, in the treasury's currency. */
  account: Account;
  amountCents: bigint;
  /** Default: one per credited account, so a retried run replays the funding instead of paying twice. */
  idempotencyKey?: string;
  description?: string;
}

/** Pays `amountCents` from the treasury into the account; refuses loudly if the ledger declines it. */
export async function fundAccount(
  service: PaymentService,
  cmd: FundAccountCommand,
): Promise<AuthorizationResult> {
  const result = await service.authorizePayment({
    idempotencyKey: cmd.idempotencyKey ?? `fund-${cmd.account.accountId}`,
    payerAccountId: cmd.treasury.accountId,
    payeeAccountId: cmd.account.accountId,
    amountCents: cmd.amountCents,
    currency: cmd.account.currency,
    description: cmd.description ?? "funding",
  });
  if (result.status === "DECLINED") {
    throw new ServiceError(
      "FAILED_PRECONDITION",
      `funding account ${cmd.account.accountId} was declined: ${result.decline?.message ?? "no reason"}`,
    );
  }
  return result;
}
