import { EntryDirection, EntryKind } from "../../lib/gen/payment/v1/payment_pb.ts";
import type { AccountBook } from "./account-book.ts";
import type { PaymentClient } from "./api.ts";
import { byId, el, setError, shortId } from "./dom.ts";
import { formatAmount } from "./money.ts";
import { describeRpcError, formatRpcFailure } from "./rpc-error.ts";

const PAGE_SIZE = 5;

const KIND_LABELS: Partial<Record<EntryKind, string>> = {
  [EntryKind.CAPTURE]: "capture",
  [EntryKind.REFUND]: "refund",
};

export function mountStatementView(deps: {
  book: AccountBook;
  client: () => PaymentClient;
  /** Opens the payment an entry belongs to. */
  openPayment: (paymentId: string) => void;
}): {
  show: (accountId: string) => void;
  reload: () => void;
} {
  const select = byId<HTMLSelectElement>("statement-account");
  const body = byId("statement-body");
  const empty = byId("statement-empty");
  const error = byId("statement-error");
  const newer = byId<HTMLButtonElement>("statement-newer");
  const older = byId<HTMLButtonElement>("statement-older");
  const pageLabel = byId("statement-page");
  // Tokens of the pages shown so far: [0] is "" (the newest page), the last is the current page's.
  let tokens: string[] = [""];
  let nextToken = "";

  const load = async () => {
    const accountId = select.value;
    if (!accountId) {
      body.replaceChildren();
      return;
    }
    setError(error, undefined);
    try {
      const page = await deps.client().listLedgerEntries({
        accountId,
        pageSize: PAGE_SIZE,
        pageToken: tokens.at(-1) ?? "",
      });
      nextToken = page.nextPageToken;
      body.replaceChildren(
        ...page.entries.map((entry) => {
          const debit = entry.direction === EntryDirection.DEBIT;
          return el(
            "tr",
            {
              dataset: {
                entryId: entry.entryId,
                paymentId: entry.paymentId,
                kind: EntryKind[entry.kind] ?? "",
              },
            },
            el("td", {}, entry.createdAt.replace("T", " ").replace(/\.\d+Z$|Z$/, "")),
            el(
              "td",
              {},
              el(
                "button",
                {
                  type: "button",
                  className: "link",
                  ariaLabel: `Open payment ${entry.paymentId}`,
                  onclick: () => deps.openPayment(entry.paymentId),
                },
                shortId(entry.paymentId),
              ),
              KIND_LABELS[entry.kind] && el("span", { className: "kind" }, KIND_LABELS[entry.kind]),
            ),
            el(
              "td",
              { className: `num ${debit ? "debit" : "credit"}` },
              `${debit ? "−" : "+"}${formatAmount(entry.amountCents, entry.currency)}`,
            ),
            // A hot account's credits carry no balance after (they are not serialised on it).
            el(
              "td",
              { className: "num" },
              entry.balanceAfterCents === undefined
                ? "—"
                : formatAmount(entry.balanceAfterCents, entry.currency),
            ),
          );
        }),
      );
      empty.hidden = page.entries.length > 0;
    } catch (failure) {
      nextToken = "";
      body.replaceChildren();
      setError(error, formatRpcFailure(describeRpcError(failure)));
    }
    pageLabel.textContent = `Page ${tokens.length}`;
    newer.disabled = tokens.length <= 1;
    older.disabled = nextToken === "";
  };

  const renderAccounts = () => {
    const selected = select.value;
    select.replaceChildren(
      ...deps.book
        .list()
        .map((account) =>
          el("option", { value: account.accountId }, `${account.accountId} · ${account.currency ?? ""}`),
        ),
    );
    if (deps.book.has(selected)) select.value = selected;
    else if (select.value) {
      tokens = [""];
      void load();
    }
  };
  deps.book.onChange(renderAccounts);

  select.addEventListener("change", () => {
    tokens = [""];
    void load();
  });
  older.addEventListener("click", () => {
    if (!nextToken) return;
    tokens.push(nextToken);
    void load();
  });
  newer.addEventListener("click", () => {
    if (tokens.length > 1) tokens.pop();
    void load();
  });

  return {
    show(accountId) {
      select.value = accountId;
      tokens = [""];
      void load();
      select.focus();
    },
    /** After a payment: back to the newest entries. */
    reload() {
      tokens = [""];
      void load();
    },
  };
}
