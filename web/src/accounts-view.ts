import type { AccountBook } from "./account-book.ts";
import type { PaymentClient } from "./api.ts";
import { byId, el, setError, shortId } from "./dom.ts";
import { formatAmount } from "./money.ts";
import { describeRpcError, formatRpcFailure } from "./rpc-error.ts";

export interface AccountsViewDeps {
  book: AccountBook;
  client: () => PaymentClient;
  subject: () => string;
  showStatement: (accountId: string) => void;
}

export function mountAccountsView(deps: AccountsViewDeps): { refresh: () => Promise<void> } {
  const body = byId("accounts-body");
  const empty = byId("accounts-empty");
  const error = byId("accounts-error");

  const render = () => {
    const rows = deps.book.list().map((account) =>
      el(
        "tr",
        { dataset: { accountId: account.accountId } },
        el(
          "td",
          {},
          shortId(account.accountId),
          " ",
          el("span", { className: "muted" }, account.currency ?? ""),
        ),
        el(
          "td",
          {
            className: "num balance",
            dataset:
              account.availableCents === undefined ? {} : { balanceCents: account.availableCents.toString() },
          },
          account.error
            ? el("span", { className: "error" }, account.error)
            : account.availableCents !== undefined && account.currency
              ? formatAmount(account.availableCents, account.currency)
              : "…",
        ),
        el(
          "td",
          {
            className: "num held",
            dataset: account.pendingCents === undefined ? {} : { heldCents: account.pendingCents.toString() },
          },
          account.pendingCents !== undefined && account.currency
            ? formatAmount(account.pendingCents, account.currency)
            : "",
        ),
        el(
          "td",
          { className: "actions" },
          el("button", {
            type: "button",
            className: "secondary small",
            textContent: "Statement",
            ariaLabel: `Statement of account ${account.accountId}`,
            onclick: () => deps.showStatement(account.accountId),
          }),
          account.error &&
            el("button", {
              type: "button",
              className: "secondary small",
              textContent: "Forget",
              ariaLabel: `Forget account ${account.accountId}`,
              onclick: () => deps.book.remove(account.accountId),
            }),
        ),
      ),
    );
    body.replaceChildren(...rows);
    empty.hidden = rows.length > 0;
  };
  deps.book.onChange(render);

  const refresh = async () => {
    setError(error, undefined);
    await deps.book.refresh(deps.client());
  };
  byId("refresh-balances").addEventListener("click", () => void refresh());

  byId<HTMLFormElement>("open-account-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const currency = byId<HTMLInputElement>("open-currency").value.trim().toUpperCase();
    setError(error, undefined);
    try {
      const { account } = await deps.client().createAccount({ owner: deps.subject(), currency });
      if (account) await deps.book.add(deps.client(), account.accountId);
    } catch (failure) {
      setError(error, formatRpcFailure(describeRpcError(failure)));
    }
  });

  byId<HTMLFormElement>("add-account-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>("add-account-id");
    setError(error, undefined);
    try {
      await deps.book.add(deps.client(), input.value.trim());
      input.value = "";
    } catch (failure) {
      setError(error, formatRpcFailure(describeRpcError(failure)));
    }
  });

  return { refresh };
}
