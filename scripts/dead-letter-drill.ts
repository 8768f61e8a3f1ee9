/**
 * `npm run drill:dead-letter`: makes one real dead letter on a running dev
 * stack, so the operator's path (status → fix → redrive) can be practised.
 * It writes an outbox event whose payload breaks its schema (what a bug in a
 * writer would do), invokes drainOutbox through the Lambda endpoint, and
 * waits until the drain has handed it to deadLetter and it is recorded.
 * Prints the event id. Needs DATABASE_URL and LAMBDA_ENDPOINT (`. .dev/env.sh`).
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { databaseConfig, lambdaClientConfig, outboxConfig } from "../lib/config.ts";
import { createPool } from "../lib/db/pool.ts";
import { newId } from "../lib/ids.ts";
import { runCli } from "./support/cli.ts";

const WAIT_MS = 90_000;

await runCli("drill:dead-letter", ["postgres"], async () => {
  const lambda = lambdaClientConfig(process.env);
  if (!lambda.endpoint) {
    throw new Error("LAMBDA_ENDPOINT is not set: run `. .dev/env.sh` (written by npm run dev) first");
  }
  const pool = createPool(databaseConfig(process.env));
  try {
    const eventId = newId();
    const paymentId = newId();
    // A PaymentAuthorized without its amount, currency or accounts: the drain's
    // schema check refuses it, which makes it poison at once (no retries).
    await pool.query(
      `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
       VALUES ($1, $2, $3, $4, $5)`,
      [eventId, "Payment", paymentId, "PaymentAuthorized", JSON.stringify({ payment_id: paymentId })],
    );
    console.error(`drill: wrote a schema-breaking event ${eventId}; invoking the drain`);
    // A local Lambda endpoint (serverless offline, LocalStack) takes any credentials.
    const client = new LambdaClient({
      region: lambda.region,
      endpoint: lambda.endpoint,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    try {
      await client.send(
        new InvokeCommand({
          FunctionName: outboxConfig(process.env).drainFunctionName,
          InvocationType: "Event",
          Payload: new TextEncoder().encode(JSON.stringify({ source: "dead-letter-drill" })),
        }),
      );
    } finally {
      client.destroy();
    }
    const until = Date.now() + WAIT_MS;
    for (;;) {
      const { rowCount } = await pool.query("SELECT 1 FROM dead_letters WHERE event_id = $1", [eventId]);
      if (rowCount) break;
      if (Date.now() > until)
        throw new Error(`event ${eventId} was not dead-lettered within ${WAIT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    console.error("drill: dead-lettered; see it with npm run status");
    console.log(eventId);
  } finally {
    await pool.end();
  }
});
