import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { PaymentService as PaymentServiceProto } from "../gen/payment/v1/payment_pb.ts";
import { formatTraceparent, parseTraceparent, TRACEPARENT_HEADER } from "../observability/trace-context.ts";
import type { AuthorizationResult } from "../payments/model.ts";
import type { PaymentService } from "../payments/service.ts";
import type { AccessPolicy } from "./access-policy.ts";
import { principalOf } from "./auth-gate.ts";
import {
  accountMessage,
  authorizeCommandFrom,
  authorizeResponseFrom,
  balanceMessage,
  entryMessage,
  paymentMessage,
} from "./proto-mapping.ts";

export interface PaymentServiceImplOptions {
  /**
   * Told of every payment decision after it committed (e.g. to nudge the
   * outbox drain); awaited, so a Lambda is not frozen mid-call. Must not reject.
   */
  afterAuthorize?(result: AuthorizationResult): Promise<unknown> | undefined;
}

/** payment.v1.PaymentService on top of the domain service, every call checked against the access policy. */
export function paymentServiceImpl(
  service: PaymentService,
  access: AccessPolicy,
  options: PaymentServiceImplOptions = {},
): ServiceImpl<typeof PaymentServiceProto> {
  const caller = (context: HandlerContext) => principalOf(context);
  return {
    async authorizePayment(request, context) {
      const cmd = authorizeCommandFrom(request);
      const principal = caller(context);
      // Keys are scoped to the subject, operators included: an operator's
      // funding keys are theirs, not the system account's.
      const remainingMs = context.timeoutMs();
      // The api's span (set by the trace-context middleware), parsed again so
      // nothing but a well-formed traceparent is ever stored.
      const trace = parseTraceparent(context.requestHeader.get(TRACEPARENT_HEADER));
      const result = await service.authorizePayment(cmd, {
        owner: principal.subject,
        mayAuthorize: (valid) => access.checkAuthorizePayment(principal, valid),
        ...(remainingMs === undefined ? {} : { deadline: Date.now() + remainingMs }),
        ...(trace ? { traceparent: formatTraceparent(trace) } : {}),
      });
      await options.afterAuthorize?.(result);
      return authorizeResponseFrom(result);
    },

    async getPayment(request, context) {
      return { payment: paymentMessage(await access.readablePayment(caller(context), request.paymentId)) };
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
