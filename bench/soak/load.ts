/** The soak's callers: AuthorizePayment over gRPC-web, back to back or at a steady rate. */
import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { PaymentService, PaymentStatus } from "../../lib/gen/payment/v1/payment_pb.ts";
import type { Account } from "../../lib/payments/model.ts";

/** "ok", "declined", or what went wrong. */
export type Outcome = string;

/**
 * One payment per call, through the api as a gRPC-web client sends it: the
 * i-th from account i to one of the next few, with its owner's token and a
 * new idempotency key. Never rejects: the outcome goes to `answered`.
 */
export function paymentsThroughTheApi(
  baseUrl: string,
  accounts: readonly Account[],
  tokens: ReadonlyMap<string, string>,
  answered: (outcome: Outcome) => void,
): () => Promise<void> {
  const client = createClient(PaymentService, createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }));
  let sequence = 0;
  return async () => {
    const i = sequence++;
    const payer = accounts[i % accounts.length] as Account;
    const payee = accounts[(i + 1 + (i % 7)) % accounts.length] as Account;
    try {
      const answer = await client.authorizePayment(
        {
          idempotencyKey: `soak-${i}-${randomBytes(4).toString("hex")}`,
          payerAccountId: payer.accountId,
          payeeAccountId: payee.accountId,
          amountCents: 1n,
          currency: "EUR",
          description: "soak",
        },
        { headers: { authorization: `Bearer ${tokens.get(payer.owner)}` } },
      );
      answered(answer.status === PaymentStatus.AUTHORIZED ? "ok" : "declined");
    } catch (error) {
      answered(`error: ${error instanceof Error ? error.message.slice(0, 80) : String(error)}`);
    }
  };
}

/** `callers` loops, each calling `pay` as soon as its previous call answered, until `untilMs`. */
export async function backToBack(pay: () => Promise<void>, callers: number, untilMs: number): Promise<void> {
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < untilMs) await pay();
    }),
  );
}

const MAX_IN_FLIGHT = 1000;

/**
 * A call every 1/`rate` s until `untilMs`, whatever the earlier ones do (an
 * open loop: a slow answer does not slow the arrivals), at most 1,000 in
 * flight; beyond that a call is skipped and `skipped` told.
 */
export async function openLoop(
  pay: () => Promise<void>,
  rate: number,
  untilMs: number,
  skipped: () => void,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  const openedAt = performance.now();
  for (let i = 0; ; i += 1) {
    const due = openedAt + (i * 1000) / rate;
    if (due >= untilMs) break;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight.size >= MAX_IN_FLIGHT) {
      skipped();
      continue;
    }
    const call = pay();
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call));
  }
  await Promise.all([...inFlight]);
}
