/**
 * The connect-web client as a browser would use it, run from Node:
 *
 *   . .dev/env.sh                              # from a running `npm run dev`
 *   TOKEN=$(npm run -s token -- --sub alice)
 *   npx tsx examples/connect-web.ts
 *
 * API_URL, TOKEN and ALICE_ACCOUNT / BOB_ACCOUNT come from the environment.
 * In a bundle, import the generated code from wherever your build keeps it.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { ulid } from "ulid";
import { PaymentService, PaymentStatus } from "../lib/gen/payment/v1/payment_pb.ts";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: run \`. .dev/env.sh\` (written by npm run dev) and set TOKEN`);
    process.exit(2);
  }
  return value;
}

const token = required("TOKEN");
const client = createClient(
  PaymentService,
  createGrpcWebTransport({
    baseUrl: required("API_URL"),
    // Binary is the smaller wire; false selects grpc-web-text (base64).
    useBinaryFormat: true,
    interceptors: [
      (next) => (request) => {
        request.header.set("authorization", `Bearer ${token}`);
        return next(request);
      },
    ],
  }),
);

const payer = required("ALICE_ACCOUNT");
const payee = required("BOB_ACCOUNT");

const before = await client.getAccountBalance({ accountId: payer });
console.log(`balance before: ${before.availableBalanceCents} ${before.currency}`);

// One key per intended payment: a retry after a network error reuses it, and
// the ledger answers with the original outcome instead of paying twice.
const idempotencyKey = ulid();
const request = {
  idempotencyKey,
  payerAccountId: payer,
  payeeAccountId: payee,
  amountCents: 250n,
  currency: before.currency,
  description: "connect-web example",
};
const paid = await client.authorizePayment(request);
console.log(`payment ${paid.paymentId}: ${PaymentStatus[paid.status]}`);
const replay = await client.authorizePayment(request);
console.log(`same key again: ${PaymentStatus[replay.status]} (payment ${replay.paymentId})`);

try {
  await client.getAccountBalance({ accountId: "not-a-ulid" });
} catch (error) {
  // Errors arrive as gRPC statuses with a message, never a stack trace.
  const e = ConnectError.from(error);
  console.log(`bad request: ${Code[e.code]}: ${e.rawMessage}`);
}

const after = await client.getAccountBalance({ accountId: payer });
console.log(`balance after: ${after.availableBalanceCents} ${after.currency}`);
if (paid.status !== PaymentStatus.AUTHORIZED || replay.paymentId !== paid.paymentId) process.exit(1);
