/**
 * The web client: wires the views to one PaymentService client. No
 * framework: a handful of DOM helpers suffice.
 */
import { AccountBook } from "./account-book.ts";
import { mountAccountsView } from "./accounts-view.ts";
import { createPaymentClient } from "./api.ts";
import { byId, setError } from "./dom.ts";
import { mountEventsView } from "./events-view.ts";
import { mountPaymentCard } from "./payment-card.ts";
import { mountPaymentView } from "./payment-view.ts";
import { devSignIn, type Session, SignInError, tokenSignIn } from "./session.ts";
import { mountStatementView } from "./statement-view.ts";

let session: Session | undefined;
const book = new AccountBook();

const client = createPaymentClient({ baseUrl: __API_URL__, token: () => session?.token });
byId("api-url").textContent = __API_URL__;

const refreshAfterWrite = () => {
  void accounts.refresh();
  statement.reload();
};
const paymentCard = mountPaymentCard({ client: () => client, onSettled: refreshAfterWrite });
const statement = mountStatementView({
  book,
  client: () => client,
  openPayment: (paymentId) => void paymentCard.show(paymentId),
});
const accounts = mountAccountsView({
  book,
  client: () => client,
  subject: () => session?.subject ?? "",
  showStatement: (accountId) => statement.show(accountId),
});
const payments = mountPaymentView({
  book,
  client: () => client,
  onSettled: (paymentId) => {
    refreshAfterWrite();
    void paymentCard.show(paymentId);
  },
});
const events = __DEV_SERVER__ ? mountEventsView({ isMine: (accountId) => book.has(accountId) }) : undefined;

const signInSection = byId("sign-in");
const workspace = byId("workspace");
const whoami = byId("whoami");
const signOut = byId<HTMLButtonElement>("sign-out");
const signInError = byId("sign-in-error");

async function start(next: Session): Promise<void> {
  session = next;
  book.open(next.subject, next.accounts);
  payments.setPayees(next.payees);
  whoami.textContent = `Signed in as ${next.subject}`;
  whoami.hidden = false;
  signOut.hidden = false;
  signInSection.hidden = true;
  workspace.hidden = false;
  await accounts.refresh();
  const first = book.list()[0];
  if (first) statement.show(first.accountId);
  events?.start(next.token);
  byId("pay-amount").focus();
}

async function signIn(make: () => Promise<Session> | Session): Promise<void> {
  setError(signInError, undefined);
  try {
    await start(await make());
  } catch (error) {
    setError(signInError, error instanceof SignInError ? error.message : String(error));
  }
}

if (__DEV_SERVER__) {
  byId("dev-sign-in").hidden = false;
  for (const button of document.querySelectorAll<HTMLButtonElement>("[data-dev-owner]")) {
    button.addEventListener("click", () => void signIn(() => devSignIn(button.dataset.devOwner ?? "")));
  }
}
byId<HTMLFormElement>("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void signIn(() => tokenSignIn(byId<HTMLTextAreaElement>("token-input").value));
});
signOut.addEventListener("click", () => {
  session = undefined;
  events?.stop();
  book.close();
  workspace.hidden = true;
  signInSection.hidden = false;
  whoami.hidden = true;
  signOut.hidden = true;
});
