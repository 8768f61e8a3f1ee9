import { Logger } from "@aws-lambda-powertools/logger";
import { createTokenVerifier } from "../auth/jwt-verifier.ts";
import { AsyncLambdaInvoker } from "../aws/lambda-invoker.ts";
import {
  apiConfig,
  authConfig,
  databaseConfig,
  lambdaClientConfig,
  outboxConfig,
  paymentsConfig,
} from "../config.ts";
import { pingDatabase } from "../db/ping.ts";
import { createPool } from "../db/pool.ts";
import { PgLedgerStore } from "../ledger/pg-ledger-store.ts";
import { DrainStateRepository } from "../outbox/drain-state.ts";
import { lambdaOutboxNudge } from "../outbox/nudge.ts";
import { PaymentService } from "../payments/service.ts";
import type { ApiDependencies } from "./create-api-handler.ts";

/**
 * Everything the api needs, from the environment. Call it at module scope:
 * the pool, the service and the JWKS cache then live as long as the
 * container, and the pool connects on first use, not at cold start.
 */
export function apiDependenciesFromEnv(
  env: Record<string, string | undefined> = process.env,
): ApiDependencies {
  const logger = new Logger({ serviceName: "payment-ledger-api" });
  const auth = authConfig(env);
  if (auth.usingLocalSecret) {
    logger.warn(
      "JWT_SECRET and JWT_JWKS_URL are unset: accepting tokens signed with the local development secret",
    );
  }
  const config = apiConfig(env);
  const pool = createPool(databaseConfig(env));
  const nudge = lambdaOutboxNudge(
    outboxConfig(env),
    new AsyncLambdaInvoker(lambdaClientConfig(env)),
    new DrainStateRepository(pool),
    logger,
  );
  return {
    service: new PaymentService(new PgLedgerStore(pool), paymentsConfig(env)),
    verifier: createTokenVerifier(auth),
    healthProbe: () => pingDatabase(pool, config.healthCheckTimeoutMs),
    config,
    logger,
    // The event is already safe in the outbox; the nudge only spares it the wait for the cron.
    afterAuthorize: () => nudge.afterCommit(),
  };
}
