/**
 * One payment, as GetPayment tells it, with what may be done to it next: a
 * hold is captured (all or part) or voided, money that moved is refunded in
 * parts. The server decides who may: the page shows its answer, whatever it
 * is. Each action sends one idempotency key, kept across its automatic
 * retries, so a lost answer never captures or refunds twice.
 */
import { ulid } from "ulid";
import {
  type GetPaymentResponse,
  HoldErrorCode,
  type Payment,
  PaymentStatus,
  RefundErrorCode,
  RefundStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import type { PaymentClient } from "./api.ts";
import { byId, el, setError, shortId } from "./dom.ts";
import { formatAmount, parseAmount } from "./money.ts";
import { DEFAULT_RETRY, sendSafely } from "./payment-attempts.ts";
import { describeRpcError, formatRpcFailure } from "./rpc-error.ts";

export interface PaymentCardDeps {
  client: () => PaymentClient;
  /** After an action was answered: balances and statements may have changed. */
  onSettled: () => void;
}

export function mountPaymentCard(deps: PaymentCardDeps): { show: (paymentId: string) => Promise<void> } {
  const idInput = byId<HTMLInputElement>("payment-id");
  const error = byId("payment-error");
  const details = byId("payment-details");
  const captureForm = byId<HTMLFormElement>("capture-form");
  const captureAmount = byId<HTMLInputElement>("capture-amount");
  const refundForm = byId<HTMLFormElement>("refund-form");
  const refundAmount = byId<HTMLInputElement>("refund-amount");
  const action = byId("payment-action");
  let shown: Payment | undefined;

  const show = async (paymentId: string) => {
    idInput.value = paymentId;
    setError(error, undefined);
    try {
      render(await deps.client().getPayment({ paymentId }));
    } catch (failure) {
      shown = undefined;
      details.hidden = true;
      setError(error, formatRpcFailure(describeRpcError(failure)));
    }
  };

  const render = (answer: GetPaymentResponse) => {
    const payment = answer.payment;
    if (!payment) return;
    shown = payment;
    const status = PaymentStatus[payment.status] ?? "UNSPECIFIED";
    const money = (cents: bigint) => formatAmount(cents, payment.currency);
    details.dataset.paymentId = payment.paymentId;
    details.dataset.status = status;
    byId("payment-status").textContent = status;
    byId("payment-status").className = `badge payment${status.toLowerCase()}`;
    byId("payment-summary").replaceChildren(
      `${money(payment.amountCents)} from `,
      shortId(payment.payerAccountId),
      " to ",
      shortId(payment.payeeAccountId),
    );
    const facts: [string, string][] = [
      ["Moved", money(payment.capturedAmountCents)],
      ["Refunded", money(payment.refundedAmountCents)],
    ];
    if (payment.holdExpiresAt) facts.push(["Hold expires", payment.holdExpiresAt]);
    if (payment.error) facts.push(["Declined", `${payment.error.message}`]);
    facts.push(["Created", payment.createdAt]);
    byId("payment-facts").replaceChildren(
      ...facts.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]),
    );

    captureForm.hidden = payment.status !== PaymentStatus.HELD;
    captureAmount.value = minor(payment.amountCents, payment.currency);
    byId("capture-currency").textContent = payment.currency;
    const refundable = payment.capturedAmountCents - payment.refundedAmountCents;
    refundForm.hidden = refundable <= 0n;
    refundAmount.value = minor(refundable > 0n ? refundable : 0n, payment.currency);
    byId("refund-currency").textContent = payment.currency;

    byId("refund-table").hidden = answer.refunds.length === 0;
    byId("refund-body").replaceChildren(
      ...answer.refunds.map((refund) =>
        el(
          "tr",
          { dataset: { refundId: refund.refundId, status: RefundStatus[refund.status] ?? "" } },
          el("td", {}, shortId(refund.refundId)),
          el("td", { className: "num" }, money(refund.amountCents)),
          el(
            "td",
            {},
            refund.status === RefundStatus.DECLINED
              ? `declined: ${RefundErrorCode[refund.error?.code ?? 0]} (${refund.error?.message ?? ""})`
              : "refunded",
          ),
        ),
      ),
    );
    details.hidden = false;
  };

  /** Sends one action (retried with the same request while its outcome is unknown), then shows the payment again. */
  const act = async (label: string, send: () => Promise<string>) => {
    const payment = shown;
    if (!payment) return;
    action.classList.remove("warning");
    action.textContent = `${label}…`;
    const result = await sendSafely(send, DEFAULT_RETRY);
    if (result.kind === "answered") action.textContent = result.response;
    else {
      action.classList.add("warning");
      action.textContent = formatRpcFailure(result.failure);
    }
    deps.onSettled();
    await show(payment.paymentId);
  };

  const amountOf = (input: HTMLInputElement, currency: string): bigint | undefined => {
    const parsed = parseAmount(input.value, currency);
    if (parsed.ok) return parsed.minorUnits;
    action.textContent = parsed.message;
    input.focus();
    return undefined;
  };

  byId<HTMLFormElement>("payment-open-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void show(idInput.value.trim());
  });

  captureForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const payment = shown;
    const amountCents = payment && amountOf(captureAmount, payment.currency);
    if (!payment || amountCents === undefined) return;
    const request = { idempotencyKey: ulid(), paymentId: payment.paymentId, amountCents };
    void act("Capturing", async () => {
      const answer = await deps.client().capturePayment(request);
      return answer.status === PaymentStatus.DECLINED
        ? `Capture declined: ${HoldErrorCode[answer.error?.code ?? 0]}: ${answer.error?.message ?? ""}`
        : `Captured ${formatAmount(answer.capturedAmountCents, payment.currency)}; ${formatAmount(answer.releasedAmountCents, payment.currency)} released to the payer.`;
    });
  });

  byId("void-submit").addEventListener("click", () => {
    const payment = shown;
    if (!payment) return;
    void act("Voiding", async () => {
      const answer = await deps.client().voidPayment({ paymentId: payment.paymentId });
      return answer.status === PaymentStatus.DECLINED
        ? `Void declined: ${HoldErrorCode[answer.error?.code ?? 0]}: ${answer.error?.message ?? ""}`
        : `Voided: ${formatAmount(answer.releasedAmountCents, payment.currency)} released to the payer.`;
    });
  });

  refundForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const payment = shown;
    const amountCents = payment && amountOf(refundAmount, payment.currency);
    if (!payment || amountCents === undefined) return;
    const request = { idempotencyKey: ulid(), paymentId: payment.paymentId, amountCents, description: "" };
    void act("Refunding", async () => {
      const answer = await deps.client().refundPayment(request);
      return answer.status === RefundStatus.DECLINED
        ? `Refund declined: ${RefundErrorCode[answer.error?.code ?? 0]}: ${answer.error?.message ?? ""}`
        : `Refunded ${formatAmount(amountCents, payment.currency)} to the payer.`;
    });
  });

  return { show };
}

/** Minor units as the decimal text the amount fields take: 1250n EUR -> "12.50". */
function minor(cents: bigint, currency: string): string {
  const formatted = formatAmount(cents, currency);
  return formatted.replace(/[^0-9.]/g, "");
}
