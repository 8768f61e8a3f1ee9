/** What the dev server's session endpoint answers (local runs only; never part of a deployed stage). */
export interface DevSession {
  subject: string;
  /** A short-lived token signed with the local development secret. */
  token: string;
  /** The subject's demo accounts: there is no "list my accounts" call in the API. */
  accounts: { accountId: string; currency: string }[];
  /** Other demo owners' accounts, as payees to pick from. */
  payees: { owner: string; accountId: string; currency: string }[];
}

/** One message the dev event stream sends per event the sample consumer read from Kafka. */
export interface FeedEvent {
  /** processed: first time the consumer saw it; duplicate: a redelivery its inbox skipped. */
  consumer: "processed" | "duplicate";
  topic: string;
  partition: number;
  offset: string;
  eventId: string;
  eventType: string;
  paymentId: string;
  payerAccountId: string;
  payeeAccountId: string;
  /** Decimal string of minor units. */
  amountCents: string;
  currency: string;
  /** Decline or dead-letter reason, when there is one. */
  reason?: string;
  receivedAt: string;
}

/** Sent every few seconds on the same stream. */
export interface OutboxStatus {
  /** Age of the oldest event not yet published (0 when none). */
  lagMs: number;
}
