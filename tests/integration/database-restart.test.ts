/**
 * Invariant 12: a database restart, failover or killed connection crashes no
 * process. The real api and drain handlers run in a child process (as Lambda
 * runs them) under steady AuthorizePayment load over gRPC-web, with the drain
 * running, while Postgres is restarted twice (a fast shutdown: every session
 * ends with 57P01, as `pg_ctl restart -m fast`, an RDS failover or a proxy
 * restart end them) and then has every backend of the functions killed with
 * pg_terminate_backend, twice. Once with the functions connected to Postgres
 * directly, once through the transaction-mode pooler.
 *
 * Asserted: the child never exits; calls in flight fail UNAVAILABLE (or
 * DEADLINE_EXCEEDED, having waited out their deadline for a server
 * connection, and then written nothing) and nothing else; the same calls
 * retried later succeed (their idempotency keys make them safe to retry);
 * every ledger invariant holds; the drain resumes and every event reaches
 * Kafka.
 *
 * This file starts its own Postgres (it restarts it; the run's shared one
 * must not be) and its own PgBouncer in front of it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig, databaseConfig } from "../../lib/config.ts";
import { createPool } from "../../lib/db/pool.ts";
import {
  PaymentService as PaymentServiceDescriptor,
  PaymentStatus,
} from "../../lib/gen/payment/v1/payment_pb.ts";
import { topicFor } from "../../lib/kafka/messages.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import { fundAccount, openTreasury } from "../../lib/payments/funding.ts";
import type { Account } from "../../lib/payments/model.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { type PoolerHandle, providePooler } from "../../tools/local-services/pgbouncer.ts";
import { freshDatabase, type PostgresHandle, providePostgres } from "../../tools/local-services/postgres.ts";
import { brokenInvariants } from "../support/invariants.ts";
import {
  createTopics,
  readTopics,
  sharedKafkaEnv,
  testKafka,
  uniqueTopicPrefix,
} from "../support/kafka-topics.ts";

const AUTH_ENV = {
  JWT_SECRET: "restart-test-secret-0123456789abcdef0123",
  JWT_ISSUER: "https://issuer.restart.test",
  JWT_AUDIENCE: "payment-ledger-restart",
};
const CLIENTS = 4;
// Payments to see succeed after each disruption before the next: service has resumed.
const RESUMED_AFTER = 15;
const CHILD = fileURLToPath(new URL("../support/functions-child.ts", import.meta.url));

let postgres: PostgresHandle | undefined;
let pooler: PoolerHandle | undefined;
let poolerProblem: string | undefined;
let kafka: Kafka;

beforeAll(async () => {
  kafka = testKafka(sharedKafkaEnv());
  // Never the user's DATABASE_URL: this file restarts the server it uses.
  const userDatabaseUrl = process.env.DATABASE_URL;
  delete process.env.DATABASE_URL;
  try {
    postgres = await providePostgres({ log: () => {} });
  } finally {
    if (userDatabaseUrl !== undefined) process.env.DATABASE_URL = userDatabaseUrl;
  }
  if (postgres.restart) {
    pooler = await providePooler(postgres, { log: () => {} }).catch((error: unknown) => {
      poolerProblem = error instanceof Error ? error.message : String(error);
      return undefined;
    });
  }
}, 240_000);

afterAll(async () => {
  await pooler?.stop();
  await postgres?.stop();
}, 60_000);

describe.each([
  { connected: "directly", throughPooler: false },
  { connected: "through the transaction-mode pooler", throughPooler: true },
])(
  "Postgres restarted and connections killed under load, functions connected $connected",
  ({ throughPooler }) => {
    it("crashes no process: calls in flight get UNAVAILABLE, retries succeed, invariants hold, the drain resumes", {
      timeout: 300_000,
    }, async (ctx) => {
      const restart = postgres?.restart;
      if (!postgres || !restart) {
        console.log(`skipped: Postgres comes from ${postgres?.source}, which this test cannot restart`);
        return ctx.skip();
      }
      if (throughPooler && !pooler) {
        console.log(
          `skipped: this test needs a transaction-mode PgBouncer in front of Postgres: ${poolerProblem}`,
        );
        return ctx.skip();
      }
      const server = postgres;
      const db = await freshDatabase(server.adminUrl, "restart", {
        pooler: throughPooler ? pooler : undefined,
      });
      // The test's own view of the database: direct, so it never waits on the pooler it tests.
      const direct = createPool({ ...databaseConfig({ DATABASE_URL: db.directUrl }), poolMax: 2 });
      const prefix = uniqueTopicPrefix();
      const topics = [topicFor(prefix, "PaymentAuthorized"), topicFor(prefix, "PaymentDeclined")];
      await createTopics(kafka, [...topics, `${prefix}.dlq`]);
      let child: ChildProcess | undefined;
      try {
        const service = new PaymentService(new PgLedgerStore(direct), { idempotencyKeyTtlSeconds: 3600 });
        const treasury = await openTreasury(service, "EUR");
        const accounts: Account[] = [];
        for (let i = 0; i < 8; i += 1) {
          const account = await service.createAccount({ owner: "alice", currency: "EUR", system: false });
          await fundAccount(service, { treasury, account, amountCents: 1_000_000_000n });
          accounts.push(account);
        }

        const functions = await startFunctions({
          ...AUTH_ENV,
          DATABASE_URL: db.url,
          ...sharedKafkaEnv(),
          KAFKA_LOG_LEVEL: "nothing",
          OUTBOX_TOPIC_PREFIX: prefix,
          OUTBOX_NUDGE_ENABLED: "false",
          // A drain cut off by the restart frees its slot soon.
          OUTBOX_DRAIN_SLOT_LEASE_MS: "3000",
          POWERTOOLS_LOG_LEVEL: "CRITICAL",
          POWERTOOLS_METRICS_DISABLED: "true",
        });
        child = functions.child;
        const token = await signLocalToken(authConfig(AUTH_ENV), { subject: "alice" });
        const client = createClient(
          PaymentServiceDescriptor,
          createGrpcWebTransport({
            baseUrl: functions.url,
            useBinaryFormat: true,
            interceptors: [
              (next) => async (req) => {
                req.header.set("authorization", `Bearer ${token}`);
                return next(req);
              },
            ],
          }),
        );

        // Steady load: CLIENTS callers, one payment after another each.
        type Request = Parameters<typeof client.authorizePayment>[0];
        const failed: Array<{ request: Request; code: string; message: string }> = [];
        let succeeded = 0;
        let stop = false;
        const callers = Array.from({ length: CLIENTS }, async (_, c) => {
          for (let i = 0; !stop; i += 1) {
            const request: Request = {
              idempotencyKey: `restart-${throughPooler ? "pooled" : "direct"}-${c}-${i}`,
              payerAccountId: (accounts[(c + i) % accounts.length] as Account).accountId,
              payeeAccountId: (accounts[(c + i + 1) % accounts.length] as Account).accountId,
              amountCents: 1n,
              currency: "EUR",
              description: "load",
            };
            try {
              await client.authorizePayment(request);
              succeeded += 1;
            } catch (error) {
              const connectError = ConnectError.from(error);
              failed.push({ request, code: Code[connectError.code], message: connectError.rawMessage });
              // A caller backs off a little after a failure, as a client would.
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          }
        });
        const resumed = async (what: string) => {
          const target = succeeded + RESUMED_AFTER;
          while (succeeded < target) {
            if (functions.exited()) throw new Error(`the functions exited ${what}:\n${functions.output()}`);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        };

        try {
          await resumed("before any disruption");
          for (const round of [1, 2]) {
            await restart();
            await resumed(`after restart ${round}`);
          }
          for (const round of [1, 2]) {
            const killed = await terminateBackends(server.adminUrl, db.name);
            expect(killed, `round ${round}: backends to kill`).toBeGreaterThan(0);
            await resumed(`after killing connections, round ${round}`);
          }
        } finally {
          stop = true;
          await Promise.all(callers);
        }

        // Some calls did meet the disruptions, and failed UNAVAILABLE: or DEADLINE_EXCEEDED, when
        // one waited out its deadline (the pooler queues a statement until it has a server again).
        expect(failed.length).toBeGreaterThan(0);
        expect(
          failed.filter((f) => f.code !== "Unavailable" && f.code !== "DeadlineExceeded"),
          "failures other than UNAVAILABLE and DEADLINE_EXCEEDED",
        ).toEqual([]);
        // Each one, retried with its key, is answered: replayed if it had committed (a connection
        // lost after the commit), made if not. One whose deadline passed wrote nothing, ever: its
        // retry is never a replay.
        for (const { request, code } of failed) {
          const answer = await client.authorizePayment(request);
          expect(answer.paymentId).not.toBe("");
          if (code === "DeadlineExceeded")
            expect(answer.status, request.idempotencyKey).toBe(PaymentStatus.AUTHORIZED);
        }
        const keys = await direct.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM payments WHERE idempotency_key = ANY($1)",
          [failed.map((f) => f.request.idempotencyKey)],
        );
        expect(keys.rows[0]?.n).toBe(new Set(failed.map((f) => f.request.idempotencyKey)).size);

        expect(await brokenInvariants(direct)).toEqual({});
        // The drain came back by itself: everything reaches Kafka.
        for (;;) {
          if (functions.exited())
            throw new Error(`the functions exited while draining:\n${functions.output()}`);
          const { rows } = await direct.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL",
          );
          if (rows[0]?.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        const { rows: events } = await direct.query<{ id: string }>("SELECT id FROM outbox");
        const delivered = new Set((await readTopics(kafka, topics)).map((m) => m.headers.event_id));
        expect(events.filter((e) => !delivered.has(e.id))).toEqual([]);
        expect(functions.exited(), functions.output()).toBe(false);
      } finally {
        if (child && child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child?.once("exit", resolve));
          child.kill("SIGKILL");
          await exited;
        }
        await direct.end();
        await db.drop();
      }
    });
  },
);

/** Ends every backend of `database` but the caller's; how many there were. */
async function terminateBackends(adminUrl: string, database: string): Promise<number> {
  // A direct session: pg_terminate_backend and pg_stat_activity are about server sessions.
  const admin = createPool({ ...databaseConfig({ DATABASE_URL: adminUrl }), poolMax: 1 });
  try {
    const { rows } = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [database],
    );
    await admin.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [
      rows.map((r) => r.pid),
    ]);
    return rows.length;
  } finally {
    await admin.end();
  }
}

interface Functions {
  child: ChildProcess;
  url: string;
  exited(): boolean;
  output(): string;
}

async function startFunctions(env: Record<string, string>): Promise<Functions> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let exitedWith: string | undefined;
  child.once("exit", (code, signal) => {
    exitedWith = signal ?? `code ${code}`;
  });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /^ready (\S+)$/m.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout?.on("data", onData);
    child.once("exit", () => reject(new Error(`the functions exited before serving:\n${output}`)));
  });
  return {
    child,
    url,
    exited: () => exitedWith !== undefined,
    output: () => `exited: ${exitedWith ?? "no"}\n${output.slice(-4000)}`,
  };
}
