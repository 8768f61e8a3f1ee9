/**
 * The api and the drain as Lambda runs them, in a process of their own, for
 * the database restart tests: the real handler modules (functions/api,
 * functions/drain-outbox), configured from the environment as on Lambda
 * (DATABASE_URL, KAFKA_BROKERS, OUTBOX_*, JWT_*). The api is served over HTTP
 * as API Gateway's HTTP API would (tools/local-services/lambda-http.ts); the
 * drain is invoked every DRAIN_EVERY_MS, one invocation at a time, as its
 * schedule would. A failed invocation is reported, as the Lambda runtime
 * reports it; nothing here catches what would crash a Lambda container (an
 * uncaught exception, an unhandled rejection): it ends this process.
 *
 * Prints "ready <api url>" once serving, then "drain <summary or error>" per run.
 */
import { lambdaContext, serveLambda } from "../../tools/local-services/lambda-http.ts";

const { handler: api } = await import("../../functions/api/handler.ts");
const { handler: drain } = await import("../../functions/drain-outbox/handler.ts");

const server = await serveLambda(api, { timeoutMs: 10_000 });
process.stdout.write(`ready ${server.url}\n`);

const everyMs = Number(process.env.DRAIN_EVERY_MS ?? 250);
const scheduled = { source: "aws.events", "detail-type": "Scheduled Event", detail: {} };
for (;;) {
  try {
    const summary = await drain(scheduled, lambdaContext(50_000));
    process.stdout.write(`drain ${JSON.stringify(summary)}\n`);
  } catch (error) {
    process.stdout.write(`drain ${JSON.stringify({ failed: String(error) })}\n`);
  }
  await new Promise((resolve) => setTimeout(resolve, everyMs));
}
