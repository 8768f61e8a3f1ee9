/**
 * AuthorizePayment through PaymentService against a real Postgres, beside
 * pgbench's built-in TPC-B-like script on the same server in the same run;
 * and a payment's lifecycle in the same run: a hold and its capture, and a
 * refund, next to the immediate payment.
 *
 *   npm run bench:ledger -- [--workers 16] [--seconds 15] [--accounts 1000] [--rounds 2]
 *
 * Uses DATABASE_URL when set, else starts a local Postgres with durable
 * settings (fsync on), as production would run, and a PgBouncer in
 * transaction mode in front of it (tools/local-services/pgbouncer.ts).
 *
 * Cases (a), (b), (b0) connect directly with the statements as the functions
 * send them (unnamed). The second table is what the choice of unnamed
 * statements costs, and what the pooler costs: case (a)'s load directly and
 * through the pooler, with authorize_payment unnamed and named (a server-side
 * prepared statement), interleaved in rounds. Named through the pooler fails
 * (PgBouncer 1.18 keeps no prepared statements across server connections):
 * its errors column shows how often.
 *
 * Right after case (a), the ledger's floor (bench/ledger-floor.ts): pgbench
 * running the rows one payment of case (a) writes as plain SQL, on accounts
 * of its own in the same database, with -M prepared (as the TPC-B-like row)
 * and -M extended (unnamed statements, what a transaction-mode pooler
 * forces), so that (a) is given as a share of it beside its share of TPC-B;
 * and again at the end of each naming round. What the floor wrote is checked
 * against the ledger's invariants at the end.
 */
import { databaseConfig } from "../lib/config.ts";
import { createPool, type Pool } from "../lib/db/pool.ts";
import { PgLedgerStore } from "../lib/ledger/pg-ledger-store.ts";
import type { Account } from "../lib/payments/model.ts";
import { PaymentService } from "../lib/payments/service.ts";
import { providePooler } from "../tools/local-services/pgbouncer.ts";
import { freshDatabase, providePostgres } from "../tools/local-services/postgres.ts";
import { checkFloorLedger, type FloorRun, openFloorAccounts, runLedgerFloor } from "./ledger-floor.ts";
import {
  argValue,
  formatMs,
  formatRate,
  machineLine,
  openFundedAccounts,
  printTable,
  runFor,
  tryExec,
} from "./support.ts";

const workers = argValue("workers", 16);
const seconds = argValue("seconds", 15);
const accountCount = argValue("accounts", 1000);
const rounds = argValue("rounds", 2);

const server = await providePostgres({ durable: true, log: (line) => console.error(line) });
const pooler = await providePooler(server, { log: (line) => console.error(line) }).catch((error: unknown) => {
  console.error(`no pooler: ${error instanceof Error ? error.message : String(error)}`);
  return undefined;
});
const db = await freshDatabase(server.adminUrl, "bench", { pooler });
const pools: Pool[] = [];
/** A PaymentService on a pool of its own: directly or through the pooler, named statements or not. */
function serviceOn(url: string, namedStatements: boolean): PaymentService {
  const pool = createPool({ ...databaseConfig({ DATABASE_URL: url }), poolMax: workers });
  pools.push(pool);
  return new PaymentService(new PgLedgerStore(pool, { namedStatements }), {
    idempotencyKeyTtlSeconds: 86_400,
  });
}
const service = serviceOn(db.directUrl, false);
const pool = pools[0] as Pool;

try {
  const serverVersion =
    (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? "?";
  const fsync = (await pool.query<{ v: string }>("SELECT current_setting('fsync') AS v")).rows[0]?.v ?? "?";
  console.error(`setting up ${accountCount} funded accounts…`);
  const accounts = await openFundedAccounts(service, accountCount, workers);
  const floorAccounts = await openFloorAccounts(pool, service, accountCount, workers);
  // (b) pays an account marked hot; (b0) the same load to an ordinary account,
  // the model every account had before hot accounts, for the same-run ratio.
  const hotPayee = await service.createAccount({
    owner: "merchant",
    currency: "EUR",
    system: false,
    hot: true,
  });
  const plainPayee = await service.createAccount({ owner: "merchant2", currency: "EUR", system: false });

  let key = 0;
  const pay = (payer: Account, payee: Account, on: PaymentService = service) =>
    on.authorizePayment({
      idempotencyKey: `bench-${process.pid}-${key++}`,
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 1n,
      currency: "EUR",
      description: "",
    });
  const pick = () => accounts[Math.floor(Math.random() * accounts.length)] as Account;

  const spreadOn = (on: PaymentService) => async () => {
    const payer = pick();
    let payee = pick();
    while (payee === payer) payee = pick();
    const result = await pay(payer, payee, on);
    if (result.status !== "AUTHORIZED") throw new Error(result.decline?.message);
  };
  const spread = spreadOn(service);
  const toOne = (payee: Account) => async () => {
    const result = await pay(pick(), payee);
    if (result.status !== "AUTHORIZED") throw new Error(result.decline?.message);
  };

  await runFor(workers, 2_000, spread); // warm-up: connections, plans, caches
  console.error(`case (a): ${accountCount} accounts, ${workers} workers, ${seconds} s…`);
  const a = await runFor(workers, seconds * 1000, spread);
  // The floor, back to back with (a): the same rows written by pgbench as plain
  // statements, named and unnamed; again in each naming round below.
  const floorRuns: FloorRun[] = [];
  const runFloors = (when: string) =>
    (["prepared", "extended"] as const).flatMap((mode) => {
      console.error(`${when}ledger floor: pgbench -M ${mode}, ${workers} clients, ${seconds} s…`);
      const run = runLedgerFloor(db.directUrl, floorAccounts, {
        mode,
        clients: workers,
        length: { seconds },
      });
      if (run) floorRuns.push(run);
      return run ? [run] : [];
    });
  const floors = runFloors("");
  console.error(`case (b): one hot payee, ${workers} workers, ${seconds} s…`);
  const b = await runFor(workers, seconds * 1000, toOne(hotPayee));
  // The hot payee's balance must be exactly what (b) paid it, however much was still unfolded.
  const hotBalance = (await service.getAccountBalance(hotPayee.accountId)).availableCents;
  const { rows: backlog } = await pool.query<{ n: bigint }>("SELECT count(*) AS n FROM hot_credits");
  console.error(`case (b0): one payee not marked hot, ${workers} workers, ${seconds} s…`);
  const b0 = await runFor(workers, seconds * 1000, toOne(plainPayee));

  // (c) a hold and its capture, as one task: two calls, two transactions.
  const holdAndCapture = async () => {
    const payer = pick();
    let payee = pick();
    while (payee === payer) payee = pick();
    const held = await service.authorizePayment({
      idempotencyKey: `bench-${process.pid}-${key++}`,
      payerAccountId: payer.accountId,
      payeeAccountId: payee.accountId,
      amountCents: 2n,
      currency: "EUR",
      description: "",
      hold: { expiresInSeconds: 3600 },
    });
    if (held.status !== "HELD") throw new Error(held.decline?.message);
    const captured = await service.capturePayment({
      idempotencyKey: `bench-${process.pid}-${key++}`,
      paymentId: held.paymentId,
      amountCents: 1n,
    });
    if (captured.status !== "CAPTURED") throw new Error(captured.decline?.message);
  };
  console.error(`case (c): hold + capture among ${accountCount} accounts, ${workers} workers, ${seconds} s…`);
  const c = await runFor(workers, seconds * 1000, holdAndCapture);

  // (d) refunds of 1 cent, each of a payment picked at random among one per account (made first, not timed).
  const refundable: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = next++; i < accounts.length; i = next++) {
        const paid = await service.authorizePayment({
          idempotencyKey: `bench-${process.pid}-${key++}`,
          payerAccountId: (accounts[i] as Account).accountId,
          payeeAccountId: (accounts[(i + 1) % accounts.length] as Account).accountId,
          amountCents: 1_000_000n,
          currency: "EUR",
          description: "refundable",
        });
        refundable.push(paid.paymentId);
      }
    }),
  );
  const refundOne = async () => {
    const paymentId = refundable[Math.floor(Math.random() * refundable.length)] as string;
    const refunded = await service.refundPayment({
      idempotencyKey: `bench-${process.pid}-${key++}`,
      paymentId,
      amountCents: 1n,
      description: "",
    });
    if (refunded.status !== "REFUNDED") throw new Error(refunded.decline?.message);
  };
  console.error(`case (d): refunds of ${accountCount} payments, ${workers} workers, ${seconds} s…`);
  const d = await runFor(workers, seconds * 1000, refundOne);

  // Statement naming and the pooler: case (a)'s load four ways, interleaved.
  const variants = [
    { name: "directly, unnamed (the functions' statements)", url: db.directUrl, named: false },
    { name: "directly, named", url: db.directUrl, named: true },
    ...(pooler && pooler.source !== "env"
      ? [
          { name: "through PgBouncer, unnamed (the functions' path)", url: db.url, named: false },
          { name: "through PgBouncer, named", url: db.url, named: true },
        ]
      : []),
  ].map((v) => ({ ...v, service: serviceOn(v.url, v.named), firstError: undefined as string | undefined }));
  const naming: string[][] = [];
  /** Each round's (a) directly, unnamed, and the floor runs after it. */
  const roundShares: { round: number; a: number; floors: FloorRun[] }[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    for (const variant of variants) {
      console.error(`naming round ${round}: ${variant.name}, ${workers} workers, ${seconds} s…`);
      const task = spreadOn(variant.service);
      const r = await runFor(workers, seconds * 1000, () =>
        task().catch((error: unknown) => {
          variant.firstError ??= error instanceof Error ? error.message : String(error);
          throw error;
        }),
      );
      naming.push([`round ${round}: ${variant.name}`, ...row("", r).slice(1)]);
      if (variant === variants[0]) roundShares.push({ round, a: r.perSecond, floors: [] });
    }
    for (const floor of runFloors(`naming round ${round}: `)) {
      naming.push([
        `round ${round}: ${floorName(floor)}`,
        formatRate(floor.tps),
        "-",
        "-",
        String(floor.failed),
      ]);
      roundShares.at(-1)?.floors.push(floor);
    }
  }
  const floorCheck =
    floorRuns.length > 0
      ? await checkFloorLedger(
          pool,
          floorAccounts,
          floorRuns.reduce((sum, f) => sum + f.transactions, 0),
        )
      : undefined;
  const tpcb = await runPgbench(server.adminUrl, workers, seconds);

  console.log("");
  console.log(
    machineLine([
      `PostgreSQL ${serverVersion} (fsync=${fsync})`,
      `${workers} workers`,
      `${seconds} s per case`,
    ]),
  );
  console.log("");
  const rows = [
    row(`AuthorizePayment (a) ${accountCount.toLocaleString("en-US")} accounts`, a),
    row("AuthorizePayment (b) one hot payee", b),
    row("AuthorizePayment (b0) one payee, not marked hot", b0),
    row(`Hold + CapturePayment (c) ${accountCount.toLocaleString("en-US")} accounts, per pair`, c),
    row(`RefundPayment (d) ${accountCount.toLocaleString("en-US")} payments`, d),
  ];
  if (tpcb)
    rows.push([
      `pgbench TPC-B-like (scale ${tpcb.scale}, ${workers} clients)`,
      formatRate(tpcb.tps),
      "-",
      "-",
      "-",
      "-",
    ]);
  for (const floor of floors) {
    rows.push([floorName(floor), formatRate(floor.tps), "-", "-", String(floor.failed)]);
  }
  printTable(
    ["case", "per second", "p50", "p99", "errors", "vs pgbench"],
    rows.map((r) => withRatio(r, tpcb?.tps)),
  );
  console.log("");
  if (tpcb || floors.length > 0) {
    const shares = [
      ...(tpcb ? [`pgbench TPC-B-like ${percent(a.perSecond, tpcb.tps)}`] : []),
      ...floors.map((f) => `ledger floor -M ${f.mode} ${percent(a.perSecond, f.tps)}`),
    ];
    console.log(`(a) as a share of: ${shares.join("; ")}`);
  }
  console.log(`(b) / (a) = ${(b.perSecond / a.perSecond).toFixed(2)}`);
  console.log(`(b0) / (a) = ${(b0.perSecond / a.perSecond).toFixed(2)}`);
  console.log(`(c) calls / (a) = ${((2 * c.perSecond) / a.perSecond).toFixed(2)} (a pair is two calls)`);
  console.log(`(d) / (a) = ${(d.perSecond / a.perSecond).toFixed(2)}`);
  console.log(
    `hot payee: balance ${hotBalance} cents after ${b.latencies.count} payments of 1 cent; ${backlog[0]?.n ?? 0n} credits unfolded when (b) ended`,
  );
  console.log("");
  console.log(
    `AuthorizePayment (a) load by connection and statement naming (${pooler?.version ?? "no pooler"}, transaction pooling):`,
  );
  console.log("");
  printTable(["case", "per second", "p50", "p99", "errors"], naming);
  for (const variant of variants.filter((v) => v.firstError)) {
    console.log(`${variant.name}: first error: ${variant.firstError}`);
  }
  for (const { round, a: perSecond, floors: after } of roundShares.filter((r) => r.floors.length > 0)) {
    const shares = after.map((f) => `-M ${f.mode} ${percent(perSecond, f.tps)}`).join("; ");
    console.log(`round ${round}: (a) directly, unnamed, as a share of the ledger floor: ${shares}`);
  }
  if (floorCheck) console.log(floorCheck);
  if (!pooler || pooler.source === "env")
    console.log(
      "no PgBouncer of this run (DATABASE_URL set, or pgbouncer not installed): pooler rows left out.",
    );
  if (!tpcb)
    console.log("pgbench not found on PATH: install the PostgreSQL client tools to compare with TPC-B.");
} finally {
  for (const open of pools) await open.end();
  await db.drop();
  await pooler?.stop();
  await server.stop();
}

function row(name: string, r: Awaited<ReturnType<typeof runFor>>): string[] {
  return [
    name,
    formatRate(r.perSecond),
    formatMs(r.latencies.quantile(0.5)),
    formatMs(r.latencies.quantile(0.99)),
    String(r.errors),
  ];
}

function floorName(floor: FloorRun): string {
  return `pgbench ledger floor, (a)'s writes, -M ${floor.mode}${floor.mode === "extended" ? " (unnamed)" : ""}`;
}

function percent(part: number, whole: number): string {
  return `${Math.round((part / whole) * 100)} %`;
}

function withRatio(cells: string[], tps: number | undefined): string[] {
  if (cells.length === 6) return cells;
  const perSecond = Number((cells[1] ?? "0").replaceAll(",", ""));
  return [...cells, tps ? `${Math.round((perSecond / tps) * 100)} %` : "-"];
}

/** pgbench's TPC-B-like script at scale = clients (one branch row per client, the documented minimum). */
async function runPgbench(
  adminUrl: string,
  clients: number,
  durationSeconds: number,
): Promise<{ tps: number; scale: number } | undefined> {
  if (tryExec("pgbench", ["--version"]) === undefined) return undefined;
  // Empty: pgbench -i makes its own tables.
  const database = await freshDatabase(adminUrl, "pgbench", { migrate: false });
  const url = database.directUrl;
  try {
    console.error(`pgbench: initialising scale ${clients}…`);
    if (tryExec("pgbench", ["-i", "-q", "-s", String(clients), url]) === undefined) return undefined;
    console.error(`pgbench: TPC-B-like, ${clients} clients, ${durationSeconds} s…`);
    const out = tryExec("pgbench", [
      "-n",
      "-M",
      "prepared",
      "-c",
      String(clients),
      "-j",
      "2",
      "-T",
      String(durationSeconds),
      url,
    ]);
    const tps = out?.match(/tps = ([0-9.]+)/)?.[1];
    return tps ? { tps: Number(tps), scale: clients } : undefined;
  } finally {
    await database.drop();
  }
}
