/**
 * One function in a process of its own (for bench:soak and bench:drain), so its memory and CPU
 * are its own: the real handler module (functions/<name>/handler.ts), built
 * from the environment the parent gives it, as a Lambda container builds it.
 *
 *   api          served over HTTP as API Gateway's HTTP API would (many calls at
 *                once: one process stands for the api's containers)
 *   drain,       invoked by the parent (schedule, nudges) one invocation at a
 *   maintenance  time, as one Lambda container is, with a Lambda context whose
 *                remaining time counts down from the function's timeout
 *   consumer     the sample consumer (lib/consumer): processes each event once
 *                through the inbox table
 *
 * FUNCTION_ROLE picks which; the parent asks for stats over the IPC channel.
 */
import type { Context } from "aws-lambda";
import { consumerConfig, databaseConfig, kafkaConfig, outboxConfig } from "../../lib/config.ts";
import { InboxProcessor, subscribedTopics } from "../../lib/consumer/inbox.ts";
import { startInboxConsumer } from "../../lib/consumer/run.ts";
import { createPool } from "../../lib/db/pool.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { createKafka } from "../../lib/kafka/client.ts";
import { lambdaContext, serveLambda } from "../../tools/local-services/lambda-http.ts";
import type { FromHost, HostRole, HostStats, ToHost } from "./protocol.ts";

const role = process.env.FUNCTION_ROLE as HostRole;
const send = (message: FromHost) => process.send?.(message);
let calls = 0;
let callMs: number[] = [];

async function timed<T>(call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await call();
  } finally {
    callMs.push(performance.now() - started);
    calls += 1;
  }
}

type InvokedHandler = (event: unknown, context: Context) => Promise<unknown>;

process.on("message", (message: ToHost) => {
  if (message.type === "stats") {
    const cpu = process.cpuUsage();
    const stats: HostStats = {
      rssBytes: process.memoryUsage.rss(),
      heapUsedBytes: process.memoryUsage().heapUsed,
      cpuUs: cpu.user + cpu.system,
      calls,
      callMs,
    };
    calls = 0;
    callMs = [];
    send({ type: "stats", stats });
  } else if (message.type === "stop") {
    process.exit(0);
  }
});
// The parent gone, nothing is left to serve.
process.on("disconnect", () => process.exit(0));

if (role === "api") {
  const { handler } = await import("../../functions/api/handler.ts");
  const server = await serveLambda((event, context) => timed(() => handler(event, context)), {
    timeoutMs: 10_000,
  });
  send({ type: "ready", url: server.url });
} else if (role === "drain" || role === "maintenance") {
  const module =
    role === "drain"
      ? await import("../../functions/drain-outbox/handler.ts")
      : await import("../../functions/maintenance/handler.ts");
  const handler = module.handler as unknown as InvokedHandler;
  process.on("message", (message: ToHost) => {
    if (message.type !== "invoke") return;
    const started = performance.now();
    timed(() => handler(message.event ?? {}, lambdaContext(message.timeoutMs))).then(
      (result) => send({ type: "done", id: message.id, ms: performance.now() - started, result }),
      (error: unknown) =>
        send({ type: "done", id: message.id, ms: performance.now() - started, error: String(error) }),
    );
  });
  send({ type: "ready" });
} else if (role === "consumer") {
  const outbox = outboxConfig(process.env);
  const consumer = consumerConfig(process.env);
  const pool = createPool(databaseConfig(process.env));
  // No effect of its own: the inbox row is what a benchmark watches.
  const topics = { prefix: outbox.topicPrefix, dlq: outbox.dlqTopic };
  const processor = new InboxProcessor({
    pool,
    consumer: consumer.groupId,
    validators: createEventValidators(),
    topics,
    effect: async () => {},
  });
  await startInboxConsumer({
    kafka: createKafka(kafkaConfig(process.env)),
    groupId: consumer.groupId,
    topics: subscribedTopics(topics),
    processor,
    fromBeginning: true,
    partitionsConcurrently: consumer.partitionsConcurrently,
    onResult: () => {
      calls += 1;
    },
  });
  send({ type: "ready" });
} else {
  throw new Error(`FUNCTION_ROLE must be api, drain, maintenance or consumer, not ${role}`);
}
