/**
 * A running stage deployed again (localstack/deploy.sh, as `npm run deploy` on AWS): its
 * migrations first, through the migrate function it already has, then the stack; the api
 * answers after it. The stack is the run's one (tests/support/localstack-global-setup.ts).
 */
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaymentStatus } from "../../../lib/gen/payment/v1/payment_pb.ts";
import { localStageApi, openAccounts, type PaymentClients } from "../../support/localstack-payments.ts";
import {
  DEPLOY_TIMEOUT_MS,
  type LocalStackSession,
  openLocalStack,
  STACK_WAIT_MS,
} from "../../support/localstack-session.ts";
import { localStackAvailability } from "../../support/localstack-stack.ts";

const availability = await localStackAvailability();
if (!availability.kind) console.log(`LocalStack e2e skipped: ${availability.reason}`);

describe.skipIf(!availability.kind)("deploying the local stage again", () => {
  let session: LocalStackSession;
  let clients: PaymentClients;

  beforeAll(async () => {
    session = await openLocalStack(["local"]);
    ({ clients } = await localStageApi(session));
  }, STACK_WAIT_MS);

  afterAll(() => session?.close());

  it(
    "deploys a running stage again with its migrations first, and the api answers after it",
    async () => {
      // The first deploy of the stage had nothing running: stack first, then migrate.
      expect(session.stack.deployOutputs.local).toContain("payment-ledger-local-migrate does not exist yet");
      const owner = `carol-${ulid()}`;
      const { payer, payee } = await openAccounts(clients, owner, `dave-${ulid()}`);
      const again = await session.deploy("local");
      const migrateFirst = again.indexOf(
        "deploy: updating payment-ledger-local-migrate and migrating before the stack deploy",
      );
      const stackDeploy = again.indexOf("deploy: deploying the local stack");
      expect(migrateFirst, again.slice(-4000)).toBeGreaterThanOrEqual(0);
      expect(stackDeploy).toBeGreaterThan(migrateFirst);
      // migrate ran between the two (its invoke prints what it applied), and once more after.
      expect(again.slice(migrateFirst, stackDeploy)).toContain("020_authorize_payment.sql");
      const paid = await clients(owner).authorizePayment({
        idempotencyKey: `after-redeploy-${ulid()}`,
        payerAccountId: payer,
        payeeAccountId: payee,
        amountCents: 1n,
        currency: "EUR",
        description: "after redeploy",
      });
      expect(paid.status).toBe(PaymentStatus.AUTHORIZED);
    },
    // A whole deploy runs inside: bounded by the deploy's own timeout, not the default 60 s.
    DEPLOY_TIMEOUT_MS + 60_000,
  );
});
