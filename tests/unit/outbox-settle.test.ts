import { describe, expect, it } from "vitest";
import type { PaymentAuthorized } from "../../lib/events/contract.ts";
import type { ClaimedEvent } from "../../lib/outbox/outbox-repository.ts";
import {
  backoffRetryStrategy,
  parkForMissingTopics,
  type RetryStrategy,
  retryAfterFailedHandOff,
  retryPoisonLater,
  settleRejections,
} from "../../lib/outbox/settle.ts";

const now = new Date("2026-01-01T00:00:00.000Z");
// Retry after `attempts` seconds: easy to read in the expectations.
const strategy: RetryStrategy = {
  maxAttempts: 3,
  nextAttemptAt: (at, attempts) => new Date(at.getTime() + attempts * 1000),
};
const failure = { kind: "event" as const, type: "MESSAGE_TOO_LARGE", message: "too big" };

function event(seq: number, attempts: number): ClaimedEvent {
  return {
    seq: BigInt(seq),
    id: `01JEVENT0000000000000000${String(seq).padStart(2, "0")}`,
    aggregateType: "Payment",
    aggregateId: `01JAGG00000000000000000${String(seq).padStart(3, "0")}`,
    eventType: "PaymentAuthorized",
    payload: {},
    createdAt: "2025-12-31T23:59:59.000Z",
    attempts,
  };
}

/** The message that was sent for `claimed`. */
function sent(claimed: ClaimedEvent): PaymentAuthorized {
  return {
    event_id: claimed.id,
    aggregate_type: "Payment",
    aggregate_id: claimed.aggregateId,
    event_type: "PaymentAuthorized",
    payload: {
      payment_id: claimed.aggregateId,
      payer_account_id: "01JPAYER000000000000000000",
      payee_account_id: "01JPAYEE000000000000000000",
      amount_cents: 100,
      currency: "EUR",
    },
    timestamp: claimed.createdAt,
  };
}

function rejection(seq: number, attempts: number) {
  const claimed = event(seq, attempts);
  return { event: claimed, envelope: sent(claimed), failure };
}

describe("settleRejections", () => {
  it("counts the attempt and schedules a retry while attempts remain", () => {
    const result = settleRejections([rejection(1, 0)], now, strategy);
    expect(result.deadLetters).toEqual([]);
    expect(result.retries).toEqual([
      {
        seq: 1n,
        attempts: 1,
        nextAttemptAt: new Date("2026-01-01T00:00:01.000Z"),
        error: "MESSAGE_TOO_LARGE: too big",
      },
    ]);
  });

  it("dead-letters the event on its last attempt, flat: the sent envelope, the attempt count, why", () => {
    const result = settleRejections([rejection(2, 2)], now, strategy);
    expect(result.retries).toEqual([]);
    expect(result.deadLetters).toHaveLength(1);
    expect(result.deadLetters[0]?.error).toBe("MESSAGE_TOO_LARGE: too big");
    expect(result.deadLetters[0]?.request).toEqual({
      ...sent(event(2, 2)),
      retry_count: 3,
      failed_at: "2026-01-01T00:00:00.000Z",
      error: "MESSAGE_TOO_LARGE: too big (after 3 attempts)",
    });
  });

  it("settles a mixed batch event by event", () => {
    const result = settleRejections([rejection(1, 0), rejection(2, 2), rejection(3, 1)], now, strategy);
    expect(result.retries.map((r) => [r.seq, r.attempts])).toEqual([
      [1n, 1],
      [3n, 2],
    ]);
    expect(result.deadLetters.map((d) => d.event.seq)).toEqual([2n]);
  });
});

describe("failed hand-offs", () => {
  it("keeps the counted attempt and tries the hand-off again after a backoff", () => {
    const [handOff] = settleRejections([rejection(2, 2)], now, strategy).deadLetters;
    if (!handOff) throw new Error("expected a dead letter");
    expect(retryAfterFailedHandOff(handOff, new Error("throttled"), now, strategy)).toEqual({
      seq: 2n,
      attempts: 3,
      nextAttemptAt: new Date("2026-01-01T00:00:03.000Z"),
      error: "MESSAGE_TOO_LARGE: too big; dead-letter invoke failed: Error: throttled",
    });
  });

  it("counts no attempt for a poison event that was never sent, but still waits", () => {
    expect(
      retryPoisonLater({ event: event(4, 0), error: "invalid event: /payload bad" }, now, strategy),
    ).toEqual({
      seq: 4n,
      attempts: 0,
      nextAttemptAt: new Date("2026-01-01T00:00:01.000Z"),
      error: "invalid event: /payload bad; dead-letter invoke failed",
    });
  });
});

describe("parkForMissingTopics", () => {
  it("waits the given delay, attempts untouched, with an error naming the topics", () => {
    expect(
      parkForMissingTopics([event(1, 0), event(2, 2)], ["payments.paymentdeclined"], now, 60_000),
    ).toEqual(
      [1, 2].map((seq) => ({
        seq: BigInt(seq),
        attempts: seq === 1 ? 0 : 2,
        nextAttemptAt: new Date("2026-01-01T00:01:00.000Z"),
        error:
          "Kafka topic payments.paymentdeclined does not exist; topics are created on purpose: run npm run topics",
      })),
    );
  });
});

describe("backoffRetryStrategy", () => {
  it("waits between half and all of base * 2^(attempts-1), capped", () => {
    const low = backoffRetryStrategy({ maxAttempts: 5, backoffBaseMs: 1000, backoffMaxMs: 3000 }, () => 0);
    const high = backoffRetryStrategy(
      { maxAttempts: 5, backoffBaseMs: 1000, backoffMaxMs: 3000 },
      () => 0.999999,
    );
    expect(low.nextAttemptAt(now, 2).getTime() - now.getTime()).toBe(1000);
    expect(high.nextAttemptAt(now, 2).getTime() - now.getTime()).toBe(2000);
    expect(high.nextAttemptAt(now, 10).getTime() - now.getTime()).toBe(3000);
    expect(low.maxAttempts).toBe(5);
  });
});
