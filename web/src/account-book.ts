/**
 * The accounts the page shows for the signed-in owner. The API has no "list my
 * accounts" call, so the page remembers the ids it learnt (dev session, opened
 * here, added by id) in localStorage, per subject; the server's ownership
 * check on GetAccountBalance decides what is really readable.
 */
import type { PaymentClient } from "./api.ts";
import { describeRpcError, formatRpcFailure } from "./rpc-error.ts";

export interface AccountView {
  accountId: string;
  currency?: string;
  availableCents?: bigint;
  /** What the account's open holds reserve. */
  pendingCents?: bigint;
  /** Why the balance could not be read (gRPC status and message). */
  error?: string;
}

const storageKey = (subject: string) => `payment-ledger:accounts:${subject}`;

export class AccountBook {
  private subject = "";
  private views = new Map<string, AccountView>();
  private listeners = new Set<() => void>();

  open(subject: string, initial: { accountId: string; currency?: string }[]): void {
    this.subject = subject;
    this.views = new Map(this.readStored().map((accountId) => [accountId, { accountId }]));
    for (const account of initial) this.views.set(account.accountId, { ...account });
    this.persist();
    this.changed();
  }

  close(): void {
    this.subject = "";
    this.views.clear();
    this.changed();
  }

  list(): AccountView[] {
    return [...this.views.values()];
  }

  get(accountId: string): AccountView | undefined {
    return this.views.get(accountId);
  }

  has(accountId: string): boolean {
    return this.views.has(accountId);
  }

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** Reads the balance first, so only an account the API lets this owner read is added. */
  async add(client: PaymentClient, accountId: string): Promise<void> {
    const balance = await client.getAccountBalance({ accountId });
    this.views.set(accountId, {
      accountId,
      currency: balance.currency,
      availableCents: balance.availableBalanceCents,
      pendingCents: balance.pendingBalanceCents,
    });
    this.persist();
    this.changed();
  }

  remove(accountId: string): void {
    this.views.delete(accountId);
    this.persist();
    this.changed();
  }

  async refresh(client: PaymentClient): Promise<void> {
    await Promise.all(
      [...this.views.keys()].map(async (accountId) => {
        try {
          const balance = await client.getAccountBalance({ accountId });
          this.views.set(accountId, {
            accountId,
            currency: balance.currency,
            availableCents: balance.availableBalanceCents,
            pendingCents: balance.pendingBalanceCents,
          });
        } catch (error) {
          const previous = this.views.get(accountId);
          this.views.set(accountId, {
            ...previous,
            accountId,
            error: formatRpcFailure(describeRpcError(error)),
          });
        }
      }),
    );
    this.changed();
  }

  private readStored(): string[] {
    try {
      const parsed: unknown = JSON.parse(localStorage.getItem(storageKey(this.subject)) ?? "[]");
      return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === "string") : [];
    } catch {
      return [];
    }
  }

  private persist(): void {
    if (this.subject) localStorage.setItem(storageKey(this.subject), JSON.stringify([...this.views.keys()]));
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
