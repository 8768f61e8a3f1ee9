// Over 300 lines on purpose: one latency run wires the api, the Invoke API stand-in, the drain containers and the broker in one process, and times each stage between them.
/**
 * bench:drain's commit→Kafka latency, at a steady payment rate, stage by
 * stage, with everything between a payment and its Kafka ack wired as the
 * functions wire it, in this process:
 *
 *   api       the api handler (createApiHandler): AuthorizePayment over
 *             gRPC-web, and after the answer the nudge as nudgeAfterPayments
 *             builds it (the shared throttle in outbox_drain_state, then an
 *             AWS SDK async invoke), when --nudge is on
 *   Lambda    an Invoke API stand-in (bench/lambda/invoke-endpoint.ts) that
 *             hands each invocation at once to a free drain container, or
 *             drops it when all are busy (as reserved concurrency throttles).
 *             Lambda's own async queue, before a container gets the event, is
 *             not modelled: on AWS its delay adds to the invoke stage.
 *   drain     containers, each a BoundedDrain (drain slots) around an
 *             OutboxDrain with a producer of its own, invoked as
 *             drainOutbox's handler invokes it: a nudged run lingers
 *   schedule  a run on a free container every --cron-ms
 *
 * Timestamps are taken where each stage ends, by wrapping the store, the
 * throttle, the invoker, the slots, the claim and the producer; every figure
 * is in milliseconds, p50 and p99 over the run.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { createApiHandler } from "../lib/api/create-api-handler.ts";
import { nudgeAfterPayments } from "../lib/api/dependencies.ts";
import { createTokenVerifier } from "../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../lib/auth/local-token.ts";
import { AsyncLambdaInvoker } from "../lib/aws/lambda-invoker.ts";
import { systemClock } from "../lib/clock.ts";
import { apiConfig, authConfig, type Env, type KafkaConfig, outboxConfig } from "../lib/config.ts";
import type { Pool } from "../lib/db/pool.ts";
import { createEventValidators } from "../lib/events/validators.ts";
import { AuthorizePaymentRequestSchema } from "../lib/gen/payment/v1/payment_pb.ts";
import { newId } from "../lib/ids.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { KafkaPublisher, type MessagePublisher } from "../lib/kafka/publisher.ts";
import { PgLedgerStore } from "../lib/ledger/pg-ledger-store.ts";
import { createLogger } from "../lib/logging.ts";
import { BoundedDrain } from "../lib/outbox/bounded-drain.ts";
import { OutboxDrain } from "../lib/outbox/drain.ts";
import { type DrainSlot, DrainSlots } from "../lib/outbox/drain-slots.ts";
import { DrainStateRepository } from "../lib/outbox/drain-state.ts";
import { type ClaimedEvent, OutboxRepository } from "../lib/outbox/outbox-repository.ts";
import type { AuthorizeInput, StoredAuthorization } from "../lib/payments/ledger-store.ts";
import type { Account } from "../lib/payments/model.ts";
import { PaymentService } from "../lib/payments/service.ts";
import { frame, grpcWebEvent, readGrpcWeb } from "../tools/local-services/grpc-web-events.ts";
import { lambdaContext } from "../tools/local-services/lambda-http.ts";
import { startInvokeEndpoint } from "./lambda/invoke-endpoint.ts";
import { openFundedAccounts } from "./support.ts";

export interface LatencyOptions {
  /** The api's pool (payments, the throttle). */
  pool: Pool;
  /** The drain containers' pool. */
  drainPool: Pool;
  kafka: KafkaConfig;
  /** The outbox settings (OUTBOX_*: the topic prefix, the nudge on or off, its interval, the poll interval). */
  env: Env;
  batchSize: number;
  /** Payments per second, for `seconds`. */
  rate: number;
  seconds: number;
  cronMs: number;
  /** Drain containers the stand-in may start (more than the slots, as Lambda would). */
  containers: number;
  log: (line: string) => void;
}

export interface Stage {
  stage: string;
  n: number;
  p50: number;
  p99: number;
}

export interface LatencyResult {
  count: number;
  p50: number;
  p99: number;
  stages: Stage[];
  /** Invocations that found every drain slot taken, or every container busy. */
  noSlot: number;
  dropped: number;
  invocations: number;
}

/** Samples in ms, by stage, in the order first recorded. */
class Samples {
  private readonly byStage = new Map<string, number[]>();

  add(stage: string, ms: number): void {
    let list = this.byStage.get(stage);
    if (!list) {
      list = [];
      this.byStage.set(stage, list);
    }
    list.push(ms);
  }

  rows(): Stage[] {
    return [...this.byStage].map(([stage, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      const q = (p: number) =>
        sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
      return { stage, n: sorted.length, p50: q(0.5), p99: q(0.99) };
    });
  }
}

/** Why a container ran: its stage names say which path an event took. */
type Cause = "nudge" | "schedule";

interface Claim {
  startedAt: number;
  endedAt: number;
  cause: Cause;
  /** The run's first claim (else a later one: the pipeline going on, or a lingering run looking again). */
  first: boolean;
}

export async function measureLatency(o: LatencyOptions): Promise<LatencyResult> {
  await o.pool.query(
    "UPDATE outbox SET published_at = now() WHERE published_at IS NULL AND dead_lettered_at IS NULL",
  );
  await o.pool.query(
    "UPDATE outbox_drain_state SET last_nudge_at = '-infinity', broker_down_until = '-infinity'",
  );
  const now = () => performance.now();
  const samples = new Samples();
  const committedAt = new Map<string, number>();
  const claimOf = new Map<string, Claim>();
  const ackedAt = new Map<string, number>();

  const outbox = outboxConfig({ ...o.env, OUTBOX_BATCH_SIZE: String(o.batchSize) });
  const silent = createLogger({ function: "bench", logLevel: "SILENT", env: {} });

  // The drain containers.
  class TimedSlots extends DrainSlots {
    override async tryAcquire(holderName?: string): Promise<DrainSlot | undefined> {
      const started = now();
      const slot = await super.tryAcquire(holderName);
      samples.add("drain: slot acquired (container start → slot)", now() - started);
      return slot;
    }
  }
  const slots = new TimedSlots(o.drainPool, outbox.maxConcurrentDrains, outbox.drainSlotLeaseMs);
  const state = new DrainStateRepository(o.drainPool);
  const publishers: MessagePublisher[] = [];
  const containers = Array.from({ length: o.containers }, (_, i) => {
    const run = { cause: "schedule" as Cause, claims: 0, startedAt: 0 };
    class TimedRepository extends OutboxRepository {
      override async claim(
        owner: string,
        limit: number,
        at: Date,
        leaseUntil: Date,
      ): Promise<ClaimedEvent[]> {
        const startedAt = now();
        if (run.claims === 0)
          samples.add(
            `drain: first claim starts (container start → claim, ${run.cause})`,
            startedAt - run.startedAt,
          );
        const events = await super.claim(owner, limit, at, leaseUntil);
        const claim = { startedAt, endedAt: now(), cause: run.cause, first: run.claims === 0 };
        run.claims += 1;
        if (events.length > 0)
          samples.add("drain: claim (statement and rows), per batch", claim.endedAt - startedAt);
        for (const event of events)
          if (!claimOf.has(event.aggregateId)) claimOf.set(event.aggregateId, claim);
        return events;
      }
    }
    const real = new KafkaPublisher(createKafka(o.kafka));
    const publisher: MessagePublisher = {
      async publish(messages) {
        await real.publish(messages);
        const at = now();
        for (const m of messages) if (!ackedAt.has(m.key)) ackedAt.set(m.key, at);
      },
      close: () => real.close(),
    };
    publishers.push(publisher);
    const drain = new OutboxDrain({
      repository: new TimedRepository(o.drainPool),
      publisher,
      deadLetters: {
        async deadLetter(request) {
          throw new Error(`bench events are valid; unexpected dead letter ${request.event_id}`);
        },
      },
      validators: createEventValidators(),
      clock: systemClock,
      config: outbox,
      name: `container-${i}`,
    });
    // As lib/outbox/dependencies.ts wires it.
    const bounded = new BoundedDrain({
      drain,
      slots,
      state,
      outagePauseMs: outbox.nudgeOutagePauseMs,
      nudgeIntervalMs: outbox.nudgeMinIntervalMs,
    });
    return { busy: false, run, bounded };
  });

  let invocations = 0;
  let dropped = 0;
  let noSlot = 0;
  const running = new Set<Promise<unknown>>();
  // What drainOutbox's handler does with an invocation (a nudged run lingers).
  const invoke = (cause: Cause) => {
    invocations += 1;
    const container = containers.find((c) => !c.busy);
    if (!container) {
      dropped += 1;
      return;
    }
    container.busy = true;
    container.run.cause = cause;
    container.run.claims = 0;
    container.run.startedAt = now();
    const deadline = Date.now() + 50_000;
    const done = container.bounded
      .run({ remainingMs: () => deadline - Date.now(), linger: cause === "nudge" })
      .then((summary) => {
        if (summary.stoppedBy === "no-slot") noSlot += 1;
      })
      .catch((error: unknown) => o.log(`drain failed: ${String(error)}`))
      .finally(() => {
        container.busy = false;
      });
    running.add(done);
    void done.finally(() => running.delete(done));
  };
  const endpoint = await startInvokeEndpoint((name) => {
    if (name === outbox.drainFunctionName) invoke("nudge");
  });

  // The api, its nudge timed stage by stage.
  class TimedState extends DrainStateRepository {
    override async claimNudge(minIntervalMs: number): Promise<boolean> {
      const started = now();
      const won = await super.claimNudge(minIntervalMs);
      samples.add(`api: shared throttle (claimNudge, ${won ? "won" : "lost"})`, now() - started);
      return won;
    }
  }
  let warm = false;
  class TimedInvoker extends AsyncLambdaInvoker {
    override async invoke(functionName: string, payload: unknown): Promise<void> {
      const started = now();
      await super.invoke(functionName, payload);
      if (warm) samples.add("api: async invoke accepted (SDK → Invoke API, 202)", now() - started);
    }
  }
  const lambda = new TimedInvoker(
    { region: "us-east-1", endpoint: endpoint.endpoint },
    { accessKeyId: "bench", secretAccessKey: "bench" },
  );
  // A loaded SDK, as in an api container that nudged before.
  await lambda.invoke("warm-up", {}).catch(() => undefined);
  warm = true;
  const nudge = nudgeAfterPayments(outbox, lambda, new TimedState(o.pool));
  class TimedStore extends PgLedgerStore {
    override async authorize(input: AuthorizeInput): Promise<StoredAuthorization> {
      const stored = await super.authorize(input);
      committedAt.set(stored.paymentId, now());
      return stored;
    }
  }
  const service = new PaymentService(new TimedStore(o.pool), { idempotencyKeyTtlSeconds: 86_400 });
  const auth = authConfig({ JWT_SECRET: "bench-secret-bench-secret-bench-secret-00" });
  const handler = createApiHandler({
    service,
    verifier: createTokenVerifier(auth),
    healthProbe: async () => true,
    config: apiConfig({}),
    logger: silent,
    ...nudge,
    afterAuthorize: (result) => {
      const committed = committedAt.get(result.paymentId);
      if (committed !== undefined) samples.add("api: commit → after-response work starts", now() - committed);
      return nudge.afterAuthorize(result);
    },
  });

  const accounts = await openFundedAccounts(service, 50);
  const tokens = await Promise.all(accounts.map((a) => signLocalToken(auth, { subject: a.owner })));
  // The funding payments' events are not measured: out of the way before the clock starts.
  await o.pool.query(
    "UPDATE outbox SET published_at = now() WHERE published_at IS NULL AND dead_lettered_at IS NULL",
  );
  committedAt.clear();
  const cron = setInterval(() => invoke("schedule"), o.cronMs);

  const interval = 1000 / o.rate;
  const total = Math.round(o.rate * o.seconds);
  const payments: Promise<void>[] = [];
  const started = now();
  for (let i = 0; i < total; i += 1) {
    const wait = started + i * interval - now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const payer = i % accounts.length;
    const payee = accounts[(i + 1) % accounts.length] as Account;
    const event = authorizeEvent(
      tokens[payer] as string,
      (accounts[payer] as Account).accountId,
      payee.accountId,
    );
    payments.push(
      handler(event, lambdaContext(10_000)).then((result) => {
        const answer = readGrpcWeb(result);
        if (answer.code !== 0) throw new Error(`payment failed: ${answer.code} ${answer.message}`);
      }),
    );
  }
  await Promise.all(payments);
  // Let the schedule deliver the tail, then stop it.
  while ([...committedAt.keys()].some((id) => !ackedAt.has(id))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  clearInterval(cron);
  while (running.size > 0) await Promise.all([...running]);
  await endpoint.close();
  await lambda.close();
  await Promise.all(publishers.map((p) => p.close()));

  const endToEnd: number[] = [];
  for (const [id, committed] of committedAt) {
    const acked = ackedAt.get(id) as number;
    endToEnd.push(acked - committed);
    const claim = claimOf.get(id);
    if (!claim) continue;
    const path =
      claim.cause === "schedule"
        ? "a scheduled run"
        : claim.first
          ? "a nudged run's first claim"
          : "a nudged run's later claim (going on, or looking again)";
    samples.add(`event: commit → its claim starts, by ${path}`, claim.startedAt - committed);
    samples.add("event: claim ends → Kafka ack (ready, send)", acked - claim.endedAt);
  }
  endToEnd.sort((a, b) => a - b);
  const q = (p: number) => endToEnd[Math.min(endToEnd.length - 1, Math.ceil(p * endToEnd.length) - 1)] ?? 0;
  return {
    count: endToEnd.length,
    p50: q(0.5),
    p99: q(0.99),
    stages: samples.rows(),
    noSlot,
    dropped,
    invocations,
  };
}

function authorizeEvent(token: string, payer: string, payee: string): APIGatewayProxyEventV2 {
  const body = toBinary(
    AuthorizePaymentRequestSchema,
    create(AuthorizePaymentRequestSchema, {
      idempotencyKey: `lat-${newId()}`,
      payerAccountId: payer,
      payeeAccountId: payee,
      amountCents: 1n,
      currency: "EUR",
      description: "",
    }),
  );
  return grpcWebEvent("/payment.v1.PaymentService/AuthorizePayment", {
    body: frame(body),
    headers: { authorization: `Bearer ${token}`, origin: "https://app.example.com", "x-grpc-web": "1" },
  });
}
