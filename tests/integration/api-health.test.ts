/**
 * grpc.health.v1.Health/Check through the handler: SERVING only when
 * Postgres answers, NOT_SERVING promptly when it does not.
 */

import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ApiHandler, createApiHandler } from "../../lib/api/create-api-handler.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { databaseConfig, paymentsConfig } from "../../lib/config.ts";
import { pingDatabase } from "../../lib/db/ping.ts";
import { createPool, type Pool } from "../../lib/db/pool.ts";
import { Health, HealthCheckResponse_ServingStatus } from "../../lib/gen/grpc/health/v1/health_pb.ts";
import { PaymentService as PaymentServiceProto } from "../../lib/gen/payment/v1/payment_pb.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import { createLogger } from "../../lib/logging.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { serveLambda } from "../../tools/local-services/lambda-http.ts";
import { freePort } from "../../tools/local-services/ports.ts";
import { type ApiFixture, apiFixture, TEST_AUTH, testApiConfig, testLogger } from "../support/api.ts";

let api: ApiFixture;

beforeAll(async () => {
  api = await apiFixture();
});
afterAll(async () => {
  await api?.close();
});

async function check(handler: ApiHandler, service = "") {
  const server = await serveLambda(handler);
  try {
    const client = createClient(
      Health,
      createGrpcWebTransport({ baseUrl: server.url, useBinaryFormat: true }),
    );
    // No token: load balancers and probes call it anonymously.
    return await client.check({ service });
  } finally {
    await server.close();
  }
}

function handlerOnPool(pool: Pool, healthTimeoutMs: number, logger = testLogger()): ApiHandler {
  return createApiHandler({
    service: new PaymentService(new PgLedgerStore(pool), paymentsConfig({})),
    verifier: createTokenVerifier(TEST_AUTH),
    healthProbe: () => pingDatabase(pool, healthTimeoutMs),
    config: testApiConfig(),
    logger,
  });
}

describe("Postgres down", () => {
  it("answers UNAVAILABLE with a message naming nothing, and logs what was down and why", async () => {
    const port = await freePort();
    const pool = createPool(
      databaseConfig({ DATABASE_URL: `postgres://postgres:s3cret-pw@127.0.0.1:${port}/ledger` }),
    );
    const logger = createLogger({ function: "api", logLevel: "WARN", env: {} });
    const logged: Record<string, unknown>[] = [];
    vi.spyOn(logger, "warn").mockImplementation((message: unknown, ...rest: unknown[]) => {
      logged.push({ message, ...(rest[0] as Record<string, unknown>) });
    });
    const server = await serveLambda(handlerOnPool(pool, 1000, logger));
    try {
      const token = await signLocalToken(TEST_AUTH, { subject: "alice" });
      const client = createClient(
        PaymentServiceProto,
        createGrpcWebTransport({
          baseUrl: server.url,
          useBinaryFormat: true,
          interceptors: [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
          ],
        }),
      );
      const error = await client
        .getAccountBalance({ accountId: "01JDQ7K3J8Z5X9V2M4N6P8R0T2" })
        .catch((e) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.Unavailable);
      expect((error as ConnectError).rawMessage).toBe("the ledger database is unavailable; retry later");
      expect(logged).toEqual([
        {
          message: "dependency unavailable",
          procedure: "/payment.v1.PaymentService/GetAccountBalance",
          error: "the ledger database is unavailable; retry later",
          cause: expect.objectContaining({ code: "ECONNREFUSED" }),
        },
      ]);
      expect(JSON.stringify(logged)).not.toContain("s3cret-pw");
    } finally {
      vi.restoreAllMocks();
      await server.close();
      await pool.end();
    }
  });
});

describe("Health/Check", () => {
  it("is SERVING while Postgres answers, for the server and for PaymentService by name", async () => {
    expect((await check(api.handler)).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await check(api.handler, "payment.v1.PaymentService")).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
  });

  it("is what the deployed entry point serves, wired from the environment", async () => {
    process.env.DATABASE_URL = api.fx.db.url;
    process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
    const { handler } = await import("../../functions/api/handler.ts");
    expect((await check(handler)).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("answers NOT_FOUND for a service it does not serve", async () => {
    const error = await check(api.handler, "other.v1.Other").catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("is NOT_SERVING when the pool points at a closed port", async () => {
    const port = await freePort();
    const pool = createPool(
      databaseConfig({ DATABASE_URL: `postgres://postgres:postgres@127.0.0.1:${port}/ledger` }),
    );
    try {
      expect((await check(handlerOnPool(pool, 1000))).status).toBe(
        HealthCheckResponse_ServingStatus.NOT_SERVING,
      );
    } finally {
      await pool.end();
    }
  });

  // A server that accepts connections and never speaks: the driver would wait
  // for its full connect timeout (a minute here). The probe's own timeout
  // answers long before this test's 10 s limit.
  it("is NOT_SERVING, without waiting out the connect timeout, when Postgres hangs", {
    timeout: 10_000,
  }, async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    const pool = createPool({
      ...databaseConfig({ DATABASE_URL: `postgres://postgres:postgres@127.0.0.1:${port}/ledger` }),
      connectTimeoutMs: 60_000,
    });
    try {
      expect((await check(handlerOnPool(pool, 300))).status).toBe(
        HealthCheckResponse_ServingStatus.NOT_SERVING,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
      await pool.end().catch(() => {});
    }
  });
});
