import {
  type AuthorizePaymentResponse,
  PaymentErrorCode,
  PaymentStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import type { AccountBook } from "./account-book.ts";
import type { PaymentClient } from "./api.ts";
import { byId, el, shortId } from "./dom.ts";
import { formatAmount, parseAmount } from "./money.ts";
import {
  DEFAULT_RETRY,
  type PaymentAttempt,
  PaymentAttempts,
  type SendProgress,
  sendSafely,
} from "./payment-attempts.ts";
import { formatRpcFailure } from "./rpc-error.ts";
import type { Payee } from "./session.ts";

export interface PaymentViewDeps {
  book: AccountBook;
  client: () => PaymentClient;
  /** After an answer: balances and the statement may have changed; the payment it names. */
  onSettled: (paymentId: string) => void;
}

export function mountPaymentView(deps: PaymentViewDeps): { setPayees: (payees: Payee[]) => void } {
  const form = byId<HTMLFormElement>("pay-form");
  const from = byId<HTMLSelectElement>("pay-from");
  const to = byId<HTMLInputElement>("pay-to");
  const amount = byId<HTMLInputElement>("pay-amount");
  const description = byId<HTMLInputElement>("pay-description");
  const holdOnly = byId<HTMLInputElement>("pay-hold");
  const holdFor = byId<HTMLSelectElement>("pay-hold-for");
  const currencyLabel = byId("pay-currency");
  const submit = byId<HTMLButtonElement>("pay-submit");
  const replay = byId<HTMLButtonElement>("pay-replay");
  const progress = byId("pay-progress");
  const outcome = byId("pay-outcome");
  const attempts = new PaymentAttempts();

  const payerCurrency = () => deps.book.get(from.value)?.currency ?? "EUR";

  const renderPayers = () => {
    const selected = from.value;
    const options = deps.book
      .list()
      .filter((account) => account.currency)
      .map((account) =>
        el("option", { value: account.accountId }, `${account.accountId} · ${account.currency ?? ""}`),
      );
    from.replaceChildren(...options);
    if (options.some((option) => option.value === selected)) from.value = selected;
    currencyLabel.textContent = payerCurrency();
  };
  deps.book.onChange(renderPayers);
  from.addEventListener("change", () => {
    currencyLabel.textContent = payerCurrency();
  });

  const showProgress = (attempt: PaymentAttempt, step: SendProgress, reused: boolean) => {
    progress.classList.toggle("warning", step.kind === "retrying" || reused);
    if (step.kind === "sending" && step.attempt === 1) {
      progress.textContent = reused
        ? `Retrying safely: the last attempt's outcome is unknown, so the same idempotency key ${attempt.idempotencyKey} is sent again.`
        : `Sending with idempotency key ${attempt.idempotencyKey}…`;
    } else if (step.kind === "retrying") {
      const seconds = (step.delayMs / 1000).toFixed(1);
      progress.textContent = `${formatRpcFailure(step.failure)}. Retrying safely in ${seconds} s with the same idempotency key ${attempt.idempotencyKey} (attempt ${step.attempt} of ${step.maxAttempts}).`;
    }
  };

  const send = async (attempt: PaymentAttempt, reused: boolean) => {
    submit.disabled = true;
    replay.disabled = true;
    outcome.hidden = true;
    const { holdSeconds, ...fields } = attempt.fields;
    const request = {
      idempotencyKey: attempt.idempotencyKey,
      ...fields,
      ...(holdSeconds === undefined ? {} : { hold: { expiresInSeconds: holdSeconds } }),
    };
    const result = await sendSafely(() => deps.client().authorizePayment(request), {
      ...DEFAULT_RETRY,
      onProgress: (step) => showProgress(attempt, step, reused),
    });
    submit.disabled = false;
    replay.disabled = false;
    if (result.kind === "answered") {
      attempts.settle(attempt);
      progress.textContent = "";
      progress.classList.remove("warning");
      showOutcome(outcome, attempt, result.response);
      deps.onSettled(result.response.paymentId);
      return;
    }
    if (!result.failure.outcomeUnknown) attempts.settle(attempt);
    progress.classList.add("warning");
    progress.textContent = result.failure.outcomeUnknown
      ? `${formatRpcFailure(result.failure)}. The outcome is unknown after ${result.attempts} attempts; press Pay again to retry safely with the same idempotency key.`
      : formatRpcFailure(result.failure);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const currency = payerCurrency();
    const parsed = parseAmount(amount.value, currency);
    if (!from.value) {
      progress.textContent = "Choose the account to pay from.";
      return;
    }
    if (!parsed.ok) {
      progress.textContent = parsed.message;
      amount.focus();
      return;
    }
    const { attempt, reused } = attempts.begin({
      payerAccountId: from.value,
      payeeAccountId: to.value.trim(),
      amountCents: parsed.minorUnits,
      currency,
      description: description.value,
      ...(holdOnly.checked ? { holdSeconds: Number(holdFor.value) } : {}),
    });
    void send(attempt, reused);
  });

  replay.addEventListener("click", () => {
    const last = attempts.lastAttempt();
    if (last) void send(last, false);
  });

  return {
    setPayees(payees) {
      byId("payee-list").replaceChildren(
        ...payees.map((payee) => el("option", { value: payee.accountId, label: payee.label })),
      );
      if (!to.value && payees[0]) to.value = payees[0].accountId;
    },
  };
}

function showOutcome(target: HTMLElement, attempt: PaymentAttempt, response: AuthorizePaymentResponse): void {
  const status = PaymentStatus[response.status] ?? "UNSPECIFIED";
  const money = formatAmount(attempt.fields.amountCents, attempt.fields.currency);
  const lines: (Node | string)[] = [];
  if (response.status === PaymentStatus.AUTHORIZED) {
    lines.push(
      el("p", {}, `Payment authorized: ${money} sent to `, shortId(attempt.fields.payeeAccountId), "."),
    );
  } else if (response.status === PaymentStatus.HELD) {
    lines.push(
      el(
        "p",
        {},
        `Hold placed: ${money} reserved for `,
        shortId(attempt.fields.payeeAccountId),
        ` until ${response.holdExpiresAt}. Capture or void it below.`,
      ),
    );
  } else if (response.status === PaymentStatus.DECLINED) {
    const code = response.error ? (PaymentErrorCode[response.error.code] ?? "UNSPECIFIED") : "UNSPECIFIED";
    lines.push(el("p", {}, `Payment of ${money} declined.`));
    lines.push(
      el(
        "p",
        { className: "reason" },
        el("strong", {}, code),
        `: ${response.error?.message ?? "no reason given"}`,
      ),
    );
  } else if (response.status === PaymentStatus.DUPLICATE) {
    lines.push(
      el(
        "p",
        {},
        "This idempotency key was used before: the original payment stands and no money moved again.",
      ),
    );
  }
  target.className = `outcome ${status.toLowerCase()}`;
  target.dataset.status = status;
  target.dataset.paymentId = response.paymentId;
  target.replaceChildren(
    el("p", { className: "status" }, el("span", { className: "badge" }, status)),
    ...lines,
    el(
      "dl",
      {},
      el("dt", {}, "Payment"),
      el("dd", {}, el("code", { className: "payment-id" }, response.paymentId)),
      el("dt", {}, "Idempotency key"),
      el("dd", {}, el("code", {}, attempt.idempotencyKey)),
      el("dt", {}, "Processed"),
      el("dd", {}, response.processedAt),
    ),
  );
  target.hidden = false;
}
