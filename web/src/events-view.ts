import type { FeedEvent, OutboxStatus } from "./dev-session.ts";
import { byId, el, setError, shortId } from "./dom.ts";
import { formatAmount } from "./money.ts";

const MAX_SHOWN = 30;

/**
 * How an event reads from either side. payer_account_id and payee_account_id
 * keep their roles in the payment whatever the event (a refund's money goes
 * from payee to payer).
 */
const WORDING: Record<string, { payer: string; payee: string }> = {
  PaymentHeld: { payer: "held for", payee: "held for you by" },
  PaymentCaptured: { payer: "captured by", payee: "captured from" },
  PaymentVoided: { payer: "hold released, was for", payee: "hold released by" },
  PaymentExpired: { payer: "hold expired, was for", payee: "hold expired, was from" },
  PaymentRefunded: { payer: "refunded to you by", payee: "refunded to" },
  PaymentRefundDeclined: { payer: "refund declined by", payee: "refund declined to" },
};

/**
 * The dev server's stream of what the sample consumer reads from Kafka, so
 * the outbox → Kafka path is visible. Server-Sent Events cannot carry an
 * Authorization header, so the token goes in the query (local only).
 */
export function mountEventsView(deps: { isMine: (accountId: string) => boolean }): {
  start: (token: string) => void;
  stop: () => void;
} {
  const card = byId("events-card");
  const list = byId("events-list");
  const lag = byId("outbox-lag");
  const error = byId("events-error");
  let source: EventSource | undefined;

  const add = (event: FeedEvent) => {
    const sent = deps.isMine(event.payerAccountId);
    const wording = WORDING[event.eventType];
    const direction = wording ? (sent ? wording.payer : wording.payee) : sent ? "sent to" : "received from";
    const counterparty = sent ? event.payeeAccountId : event.payerAccountId;
    const item = el(
      "li",
      { dataset: { paymentId: event.paymentId, eventType: event.eventType } },
      el("span", { className: `badge ${event.eventType.toLowerCase()}` }, event.eventType),
      el(
        "span",
        { className: "what" },
        `${formatAmount(BigInt(event.amountCents), event.currency)} ${direction} `,
        shortId(counterparty),
        event.reason ? ` — ${event.reason}` : "",
      ),
      el(
        "span",
        { className: "where muted" },
        `${event.topic}[${event.partition}]@${event.offset} · payment `,
        shortId(event.paymentId),
        ` · ${event.consumer}`,
      ),
    );
    list.prepend(item);
    while (list.children.length > MAX_SHOWN) list.lastElementChild?.remove();
  };

  return {
    start(token) {
      card.hidden = false;
      list.replaceChildren();
      setError(error, undefined);
      source = new EventSource(`/dev/events?token=${encodeURIComponent(token)}`);
      source.addEventListener("payment", (message) =>
        add(JSON.parse((message as MessageEvent<string>).data) as FeedEvent),
      );
      source.addEventListener("outbox", (message) => {
        const status = JSON.parse((message as MessageEvent<string>).data) as OutboxStatus;
        lag.textContent =
          status.lagMs === 0 ? "outbox: all published" : `outbox lag ${(status.lagMs / 1000).toFixed(1)} s`;
      });
      // The dev server ends the stream when the token expires; reconnecting would only be refused.
      source.addEventListener("expired", () => {
        source?.close();
        setError(error, "The token has expired, so the event stream ended: sign in again.");
      });
      source.addEventListener("open", () => setError(error, undefined));
      source.addEventListener("error", () => {
        setError(
          error,
          source?.readyState === EventSource.CLOSED
            ? "The event stream was refused (is the token still valid?)."
            : "The event stream is reconnecting…",
        );
      });
    },
    stop() {
      source?.close();
      source = undefined;
      card.hidden = true;
    },
  };
}
