import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { PaymentService as PaymentServiceProto } from "../gen/payment/v1/payment_pb.ts";
import { formatTraceparent } from "../observability/trace-context.ts";
import type { AuthorizationResult, PaymentCaller } from "../payments/model.ts";
import type { PaymentService } from "../payments/service.ts";
import { afterResponse, callDeadline, markTakenEffect } from "../rpc/index.ts";
import type { AccessPolicy } from "./access-policy.ts";
import { principalOf } from "./auth-gate.ts";
import { traceOf } from "./call-trace.ts";
import {
  accountMessage,
  authorizeCommandFrom,
  authorizeResponseFrom,
  balanceMessage,
  captureCommandFrom,
  captureResponseFrom,
  entryMessage,
  paymentMessage,
  refundCommandFrom,
  refundMessage,
  refundResponseFrom,
  voidResponseFrom,
} from "./proto-mapping.ts";

export interface PaymentServiceImplOptions {
  /**
   * Told of every payment decision once it committed (metrics, the outbox
   * nudge). Runs after the answer is final and never changes it: a failure
   * is logged, and the answer waits for it only as long as the host allows.
   */
  afterAuthorize?(result: AuthorizationResult): Promise<unknown> | undefined;
  /** Told, the same way, after a capture, void or refund call wrote (the outbox nudge). */
  afterWrite?(): Promise<unknown> | undefined;
}

/** payment.v1.PaymentService on top of the domain service, every call checked against the access policy. */
export function paymentServiceImpl(
  service: PaymentService,
  access: AccessPolicy,
  options: PaymentServiceImplOptions = {},
): ServiceImpl<typeof PaymentServiceProto> {
  const caller = (context: HandlerContext) => principalOf(context);
  const { afterAuthorize, afterWrite } = options;
  const afterWriting = (context: HandlerContext) => {
    if (afterWrite) afterResponse(context.values, async () => afterWrite());
  };
  return {
    async authorizePayment(request, context) {
      const cmd = authorizeCommandFrom(request);
      const principal = caller(context);
      // Decided here, before the domain is asked: it never calls back up.
      await access.checkAuthorizePayment(principal, cmd);
      const result = await service.authorizePayment(cmd, writer(context, principal.subject));
      if (afterAuthorize) afterResponse(context.values, async () => afterAuthorize(result));
      return authorizeResponseFrom(result);
    },

    async capturePayment(request, context) {
      const principal = caller(context);
      await access.checkSettleHold(principal, request.paymentId, "capture");
      const result = await service.capturePayment(
        captureCommandFrom(request),
        writer(context, principal.subject),
      );
      // A capture, or the expiry of a hold it found past due, wrote an event.
      afterWriting(context);
      return captureResponseFrom(result);
    },

    async voidPayment(request, context) {
      const principal = caller(context);
      await access.checkSettleHold(principal, request.paymentId, "void");
      const result = await service.voidPayment(request.paymentId, writer(context, principal.subject));
      afterWriting(context);
      return voidResponseFrom(result);
    },

    async refundPayment(request, context) {
      const principal = caller(context);
      await access.checkRefund(principal, request.paymentId);
      const result = await service.refundPayment(
        refundCommandFrom(request),
        writer(context, principal.subject),
      );
      afterWriting(context);
      return refundResponseFrom(result);
    },

    async getPayment(request, context) {
      const payment = await access.readablePayment(caller(context), request.paymentId);
      const refunds = await service.listRefunds(payment.paymentId);
      return { payment: paymentMessage(payment), refunds: refunds.map(refundMessage) };
    },

    async getAccountBalance(request, context) {
      await access.readableAccount(caller(context), request.accountId);
      return balanceMessage(await service.getAccountBalance(request.accountId));
    },

    async createAccount(request, context) {
      const cmd = access.accountToOpen(caller(context), {
        owner: request.owner,
        currency: request.currency,
        system: request.system,
        hot: request.hot,
      });
      return { account: accountMessage(await service.createAccount(cmd)) };
    },

    async listLedgerEntries(request, context) {
      const principal = caller(context);
      await access.readableAccount(principal, request.accountId);
      const page = await service.listLedgerEntries(
        { accountId: request.accountId, pageSize: request.pageSize, pageToken: request.pageToken },
        { owner: principal.subject },
      );
      return { entries: page.entries.map(entryMessage), nextPageToken: page.nextPageToken };
    },
  };
}

/** Who writes, until when, in which trace; and the point from which the write is the call's answer. */
function writer(context: HandlerContext, subject: string): PaymentCaller {
  const deadline = callDeadline(context.values);
  const trace = traceOf(context.values);
  return {
    // Keys are scoped to the subject, operators included: an operator's keys are theirs.
    owner: subject,
    ...(deadline === undefined ? {} : { deadline }),
    ...(trace ? { traceparent: formatTraceparent(trace) } : {}),
    // Once the write's statement is on its way, what the ledger answers is the answer:
    // committed, or an error with nothing written. The deadline no longer replaces it,
    // so a commit that lands as the deadline passes is never reported DEADLINE_EXCEEDED.
    onCommitStarted: () => markTakenEffect(context.values),
  };
}
