import { createTokenVerifier } from "../auth/jwt-verifier.ts";
import { AsyncLambdaInvoker } from "../aws/lambda-invoker.ts";
import {
  apiConfig,
  authConfig,
  databaseConfig,
  type Env,
  lambdaClientConfig,
  ledgerConfig,
  type OutboxConfig,
  observabilityConfig,
  outboxConfig,
  pageTokenConfig,
  paymentsConfig,
} from "../config.ts";
import { pingDatabase } from "../db/ping.ts";
import { createPool } from "../db/pool.ts";
import { PgLedgerStore } from "../ledger/pg-ledger-store.ts";
import { createLogger, type Log } from "../logging.ts";
import { EmfMetrics } from "../observability/metrics.ts";
import { DrainStateRepository } from "../outbox/drain-state.ts";
import { lambdaOutboxNudge } from "../outbox/nudge.ts";
import { PageTokens } from "../payments/page-token.ts";
import { PaymentService } from "../payments/service.ts";
import type { ApiDependencies } from "./create-api-handler.ts";
import { pageTokenKeys } from "./page-token-keys.ts";

/**
 * Everything the api needs, from `env` and nothing else. The handler calls it
 * once at module scope: the pool, the service, the JWKS cache and the nudge
 * then live as long as the container, and the pool connects on first use,
 * not at cold start.
 */
export function apiDependenciesFromEnv(env: Env): ApiDependencies {
  const logger = createLogger({ function: "api", env });
  const auth = authConfig(env);
  if (auth.usingLocalSecret) {
    logger.warn(
      "JWT_SECRET and JWT_JWKS_URL are unset: accepting tokens signed with the local development secret",
    );
  }
  const pageTokens = pageTokenConfig(env);
  if (pageTokens.usingLocalSecret) {
    logger.warn(
      "PAGE_TOKEN_SECRET and PAGE_TOKEN_SECRET_ARN are unset: signing page tokens with the local development key",
    );
  }
  const config = apiConfig(env);
  const pool = createPool(databaseConfig(env));
  return {
    service: new PaymentService(
      new PgLedgerStore(pool, ledgerConfig(env)),
      paymentsConfig(env),
      new PageTokens(pageTokenKeys(pageTokens)),
    ),
    verifier: createTokenVerifier(auth),
    healthProbe: () => pingDatabase(pool, config.healthCheckTimeoutMs),
    config,
    logger,
    metrics: new EmfMetrics({ ...observabilityConfig(env), functionName: "api" }),
    ...nudgeAfterPayments(
      outboxConfig(env),
      new AsyncLambdaInvoker(lambdaClientConfig(env)),
      new DrainStateRepository(pool),
      logger,
    ),
  };
}

/**
 * The outbox nudge after every committed payment, capture, void or refund. The event is already safe
 * in the outbox; the nudge only spares it the wait for the cron. So it runs
 * after the payment's answer is final, and the answer waits for it no longer
 * than the nudge's own timeout (nor into the last LAMBDA_DEADLINE_MARGIN_MS of
 * the call's deadline, so a client counting down still gets it).
 */
export function nudgeAfterPayments(
  config: OutboxConfig,
  lambda: AsyncLambdaInvoker,
  state: DrainStateRepository,
  log?: Log,
): Required<Pick<ApiDependencies, "afterAuthorize" | "afterWrite" | "afterResponseMs">> {
  const nudge = lambdaOutboxNudge(config, lambda, state, log);
  const afterCommit = () => nudge.afterCommit();
  return {
    afterAuthorize: afterCommit,
    afterWrite: afterCommit,
    afterResponseMs: config.nudgeTimeoutMs,
  };
}
