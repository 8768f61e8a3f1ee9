import type {
  AuthorizeInput,
  LedgerStore,
  NewAccount,
  StoredAuthorization,
  StoredCapture,
  StoredRefund,
  StoredVoid,
} from "../lib/payments/ledger-store.ts";
import type { Account, Balance, LedgerEntry, Payment, Refund } from "../lib/payments/model.ts";

/**
 * A LedgerStore that keeps accounts in a Map and decides every payment as a
 * new authorization without moving money: enough for the gateway benchmark to
 * measure everything but the database.
 */
export class InMemoryLedgerStore implements LedgerStore {
  private readonly accounts = new Map<string, Account>();
  private readonly processedAt = new Date();

  async authorize(input: AuthorizeInput): Promise<StoredAuthorization> {
    return {
      outcome: "NEW",
      paymentId: input.paymentId,
      status: "AUTHORIZED",
      processedAt: this.processedAt,
    };
  }

  async createAccount(account: NewAccount): Promise<Account> {
    const created = { ...account, hot: account.hot ?? false, createdAt: this.processedAt.toISOString() };
    this.accounts.set(account.accountId, created);
    return created;
  }

  async findAccount(accountId: string): Promise<Account | undefined> {
    return this.accounts.get(accountId);
  }

  async findPayment(): Promise<Payment | undefined> {
    return undefined;
  }

  async listRefunds(): Promise<Refund[]> {
    return [];
  }

  // The gateway benchmark makes payments only; the lifecycle's writes are never called.
  capture(): Promise<StoredCapture> {
    return notBenchmarked("capture");
  }

  voidHold(): Promise<StoredVoid> {
    return notBenchmarked("voidHold");
  }

  refund(): Promise<StoredRefund> {
    return notBenchmarked("refund");
  }

  expireHolds(): Promise<number> {
    return notBenchmarked("expireHolds");
  }

  async findBalance(accountId: string): Promise<Balance | undefined> {
    const account = this.accounts.get(accountId);
    return account && { accountId, availableCents: 0n, pendingCents: 0n, currency: account.currency };
  }

  async listEntries(): Promise<LedgerEntry[]> {
    return [];
  }
}

function notBenchmarked(what: string): Promise<never> {
  return Promise.reject(new Error(`${what} is not part of the gateway benchmark`));
}
