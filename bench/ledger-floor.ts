/**
 * The ledger's floor for bench:ledger: pgbench running, as plain SQL in one
 * transaction, exactly the rows one AuthorizePayment of case (a) writes (an
 * immediate payment; lib/ledger/sql/020_authorize_payment.sql and
 * 015_balance_moves.sql), on the real schema after the migrations:
 *
 * - the idempotency key (owner '', key, request hash, payment id, expiry);
 * - the payment row, AUTHORIZED, and its PaymentAuthorized outbox event with
 *   the same payload (one statement, as the function writes them);
 * - both balance updates in account id order, the debit's WHERE the funds
 *   check (currency, not hot, allow_negative or available - pending covers
 *   it), each returning the balance after;
 * - both ledger entries (one INSERT) with those balances after.
 *
 * Every constraint, domain, foreign key and index of those tables applies.
 * Payer and payee are drawn as case (a) draws them: uniformly among
 * `accounts` funded accounts, never the same one. What it leaves out of the
 * function: the plpgsql call and its result row; the idempotency claim's
 * takeover of an expired key (a plain INSERT, where the function runs
 * INSERT … ON CONFLICT DO UPDATE) and the replay or conflict lookup; the
 * deadline checks (case (a) sends no deadline, so they return at once); the
 * same-account check, the decline path and its reasons; hot accounts' and
 * holds' branches (never taken in case (a)); and the client's side (request
 * hash, ULIDs, validation, the store's roll-up every 256 payments). What it
 * adds: one nextval() per payment, for its ids.
 *
 * Its accounts are its own, opened and funded as openFundedAccounts() opens
 * (a)'s, with ids the script can compute: a ULID's time part and a 16-digit
 * index, so account id order is index order. Its payment, event and entry
 * ids are a ULID's time part taken when a run starts and a 16-digit number
 * from a sequence: well-formed ULIDs, increasing as the service's monotonic
 * ULIDs do, so each index is appended to at its right edge as it is by (a).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "../lib/db/pool.ts";
import { newId } from "../lib/ids.ts";
import { PgLedgerStore } from "../lib/ledger/pg-ledger-store.ts";
import { fundAccount, openTreasury } from "../lib/payments/funding.ts";
import type { PaymentService } from "../lib/payments/service.ts";
import { tryExec } from "./support.ts";

/** The sequence the floor's ids come from (made here, in the bench's database only). */
const ID_SEQUENCE = "ledger_floor_ids";
/** The floor's idempotency keys start with this, as (a)'s start with `bench-`. */
const KEY_PREFIX = "ledger-floor-";
/** How (a) pays: 1 cent, in EUR, no description, keys kept a day. */
const AMOUNT = 1;
const CURRENCY = "EUR";
const KEY_TTL_SECONDS = 86_400;

/** The floor's funded accounts: `prefix` + the index (1 … count) in 16 digits. */
export interface FloorAccounts {
  prefix: string;
  count: number;
}

/** pgbench's modes the floor runs in: named statements, and unnamed ones (what a pooler forces). */
export type FloorMode = "prepared" | "extended";

export interface FloorRun {
  mode: FloorMode;
  tps: number;
  transactions: number;
  failed: number;
}

const digits = (n: number) => String(n).padStart(16, "0");

/** `count` funded EUR accounts for the floor, opened as openFundedAccounts() opens case (a)'s. */
export async function openFloorAccounts(
  pool: Pool,
  service: PaymentService,
  count: number,
  concurrency: number,
): Promise<FloorAccounts> {
  const store = new PgLedgerStore(pool);
  const treasury = await openTreasury(service, CURRENCY);
  const prefix = newId().slice(0, 10);
  let next = 1;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i <= count; i = next++) {
        const account = await store.createAccount({
          accountId: prefix + digits(i),
          owner: `floor${i}`,
          currency: CURRENCY,
          system: false,
        });
        await fundAccount(service, { treasury, account, amountCents: 1_000_000_000n });
      }
    }),
  );
  await pool.query(`CREATE SEQUENCE IF NOT EXISTS ${ID_SEQUENCE}`);
  return { prefix, count };
}

/**
 * The pgbench script. Variables (-D): accounts, account_prefix, ids (a ULID's
 * time part), hash. Only for -M prepared or extended, where a variable is a
 * parameter: no variable sits inside a quoted literal. `toOne`: every payment
 * to the last account from the others (bench:ledger-costs' contended rate):
 * its id sorts last, so its row is locked after the payer's, as the
 * contended payee of case (a), opened after the payers, is.
 */
export function floorScript(toOne = false): string {
  // A payment's four ids: n from the sequence (taken by the key's INSERT),
  // then 4n, 4n+1, 4n+2, 4n+3 for the payment, its event and its two entries.
  const id = (k: number) => `:ids || lpad((currval('${ID_SEQUENCE}') * 4 + ${k})::text, 16, '0')`;
  const account = (variable: string) => `:account_prefix || lpad(:${variable}::text, 16, '0')`;
  const debit = `UPDATE balances SET available = available - ${AMOUNT}, updated_at = now()
 WHERE account_id = ${account("payer")} AND currency = '${CURRENCY}' AND NOT hot
   AND (allow_negative OR available - pending >= ${AMOUNT})
RETURNING available AS debit_after \\gset`;
  const credit = `UPDATE balances SET available = available + ${AMOUNT}, updated_at = now()
 WHERE account_id = ${account("payee")} AND currency = '${CURRENCY}' AND NOT hot
RETURNING available AS credit_after \\gset`;
  const draw = toOne
    ? `\\set payee :accounts
\\set payer random(1, :accounts - 1)`
    : `\\set payer random(1, :accounts)
\\set payee random(1, :accounts - 1)
\\if :payee >= :payer
\\set payee :payee + 1
\\endif`;
  return `${draw}
BEGIN;
-- The key's columns are evaluated in the table's column order: key (nextval) before payment_id (currval).
INSERT INTO idempotency_keys (owner, key, request_hash, payment_id, created_at, expires_at)
VALUES ('', '${KEY_PREFIX}' || nextval('${ID_SEQUENCE}'), :hash, ${id(0)},
        now(), now() + interval '${KEY_TTL_SECONDS} seconds');
WITH payment AS (
  INSERT INTO payments (id, idempotency_key, payer_account_id, payee_account_id, amount, currency,
                        description, status, created_at, updated_at)
  VALUES (${id(0)}, '${KEY_PREFIX}' || currval('${ID_SEQUENCE}'), ${account("payer")}, ${account("payee")},
          ${AMOUNT}, '${CURRENCY}', '', 'AUTHORIZED', now(), now())
)
INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, next_attempt_at)
VALUES (${id(1)}, 'Payment', ${id(0)}, 'PaymentAuthorized',
        jsonb_build_object('payment_id', ${id(0)}, 'payer_account_id', ${account("payer")},
                           'payee_account_id', ${account("payee")}, 'amount_cents', ${AMOUNT},
                           'currency', '${CURRENCY}', 'description', ''),
        now(), now());
\\if :payer < :payee
${debit}
${credit}
\\else
${credit}
${debit}
\\endif
INSERT INTO ledger_entries (id, payment_id, account_id, amount, currency, balance_after, created_at)
VALUES (${id(2)}, ${id(0)}, ${account("payer")}, -${AMOUNT}, '${CURRENCY}', :debit_after, now()),
       (${id(3)}, ${id(0)}, ${account("payee")}, ${AMOUNT}, '${CURRENCY}', :credit_after, now());
END;
`;
}

export interface FloorRunOptions {
  mode: FloorMode;
  clients: number;
  /** How long it runs (-T), or how many transactions each client makes (-t). */
  length: { seconds: number } | { transactions: number };
  toOne?: boolean;
}

/** One floor run of pgbench; undefined without pgbench. */
export function runLedgerFloor(
  url: string,
  accounts: FloorAccounts,
  options: FloorRunOptions,
): FloorRun | undefined {
  if (tryExec("pgbench", ["--version"]) === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "ledger-floor-"));
  try {
    const script = join(dir, "authorize-payment.sql");
    writeFileSync(script, floorScript(options.toOne));
    // A request hash as the service makes one (sha256, base64url): 43 characters.
    const hash = createHash("sha256").update("ledger-floor").digest("base64url");
    const out = pgbench([
      "-n",
      "-M",
      options.mode,
      "-c",
      String(options.clients),
      "-j",
      "2",
      ...("seconds" in options.length
        ? ["-T", String(options.length.seconds)]
        : ["-t", String(options.length.transactions)]),
      "-f",
      script,
      "-D",
      `accounts=${accounts.count}`,
      "-D",
      `account_prefix=${accounts.prefix}`,
      "-D",
      `ids=${newId().slice(0, 10)}`,
      "-D",
      `hash=${hash}`,
      url,
    ]);
    const tps = out.match(/tps = ([0-9.]+)/)?.[1];
    const transactions = out.match(/number of transactions actually processed: (\d+)/)?.[1];
    if (!tps || !transactions) throw new Error(`the ledger floor's pgbench run printed no rate: ${out}`);
    const failed = Number(out.match(/number of failed transactions: (\d+)/)?.[1] ?? 0);
    return { mode: options.mode, tps: Number(tps), transactions: Number(transactions), failed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** pgbench's output; throws with what it printed when it fails (a client aborted, a bad script). */
function pgbench(args: string[]): string {
  try {
    return execFileSync("pgbench", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`the ledger floor's pgbench run failed:\n${stderr.slice(-2000)}${stdout.slice(-1000)}`);
  }
}

/**
 * What the floor's runs wrote, checked against the ledger's invariants: each
 * payment has its key, its event and two entries; each floor account's
 * balance is the sum of its entries and its last entry's balance after.
 * `counted`: the transactions pgbench reported, printed beside. Throws when one does not hold; else a line saying what was checked.
 */
export async function checkFloorLedger(
  pool: Pool,
  accounts: FloorAccounts,
  counted: number,
): Promise<string> {
  const { rows } = await pool.query<Record<string, string>>(
    `WITH p AS (SELECT id, idempotency_key FROM payments WHERE idempotency_key LIKE $1 || '%')
     SELECT
       (SELECT count(*) FROM p) AS payments,
       (SELECT count(*) FROM idempotency_keys k JOIN p ON p.id = k.payment_id AND p.idempotency_key = k.key
         WHERE k.owner = '') AS keys,
       (SELECT count(*) FROM outbox o JOIN p ON p.id = o.aggregate_id
         WHERE o.event_type = 'PaymentAuthorized') AS events,
       (SELECT count(*) FROM ledger_entries e JOIN p ON p.id = e.payment_id) AS entries,
       (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e JOIN p ON p.id = e.payment_id) AS net,
       (SELECT count(*) FROM balances b WHERE b.account_id LIKE $2 || '%'
           AND b.available IS DISTINCT FROM (SELECT sum(e.amount) FROM ledger_entries e WHERE e.account_id = b.account_id)
       ) AS off_sum,
       (SELECT count(*) FROM balances b WHERE b.account_id LIKE $2 || '%'
           AND b.available IS DISTINCT FROM (SELECT e.balance_after FROM ledger_entries e
                                              WHERE e.account_id = b.account_id ORDER BY e.seq DESC LIMIT 1)
       ) AS off_last`,
    [KEY_PREFIX, accounts.prefix],
  );
  const r = rows[0] ?? {};
  const n = (name: string) => Number(r[name]);
  const payments = n("payments");
  const broken = [
    n("keys") !== payments && `${n("keys")} keys`,
    n("events") !== payments && `${n("events")} events`,
    n("entries") !== 2 * payments && `${n("entries")} entries`,
    n("net") !== 0 && `entries summing to ${n("net")}`,
    n("off_sum") > 0 && `${n("off_sum")} balances not the sum of their entries`,
    n("off_last") > 0 && `${n("off_last")} balances not their last entry's balance after`,
  ].filter(Boolean);
  if (broken.length > 0) {
    throw new Error(`ledger floor: ${payments} payments but ${broken.join(", ")}`);
  }
  return `ledger floor: ${payments.toLocaleString("en-US")} payments (pgbench counted ${counted.toLocaleString("en-US")}) checked: each with its key, event and two entries; each of ${accounts.count.toLocaleString("en-US")} accounts' balance is its entries' sum and its last entry's balance after`;
}
