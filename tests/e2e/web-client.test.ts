/**
 * The web client in a real Chromium, against the real stack: the page's dev
 * server (as `npm run dev` runs it) on its own origin, serverless offline with
 * CORS allowing exactly that origin, Postgres, Kafka, the drain (nudged after
 * each payment) and the sample consumer feeding the page's event stream.
 * gRPC-web binary: connect-web's only gRPC-web wire format the api serves. Screenshots go to .ci/.
 *
 * Needs a Chromium on the machine (CI installs Debian's); without one the
 * suite is skipped and says why.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig, databaseConfig, paymentsConfig } from "../../lib/config.ts";
import { createPool, type Pool } from "../../lib/db/pool.ts";
import { PgLedgerStore } from "../../lib/ledger/pg-ledger-store.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { type DemoAccounts, seedDemo } from "../../scripts/demo-seed.ts";
import { type OfflineHandle, PROJECT_ROOT, startOffline } from "../../tools/local-services/offline.ts";
import { freePorts } from "../../tools/local-services/ports.ts";
import type { TestDatabase } from "../../tools/local-services/postgres.ts";
import { type DevWebClient, startDevWebClient } from "../../web/dev/start.ts";
import { launchChromium, probeChromium } from "../support/chromium.ts";
import { testDatabase } from "../support/database.ts";
import { createLedgerTopics, sharedKafkaEnv, uniqueTopicPrefix } from "../support/kafka-topics.ts";

const probe = await probeChromium();
if (!probe.ok) console.log(`web client e2e skipped: ${probe.reason}`);

const AUTH_ENV = {
  JWT_SECRET: "e2e-web-client-secret-0123456789abcdef01",
  JWT_ISSUER: "https://issuer.web-e2e.test",
  JWT_AUDIENCE: "payment-ledger-web-e2e",
};
// The drain is nudged after every payment; its schedule only backs that up.
const EVENT_TIMEOUT_MS = 90_000;
const HISTORY_PAYMENTS = 6;
// Room for the page's own retries (four attempts) on a loaded machine; an answer normally takes well under a second.
const OUTCOME_TIMEOUT_MS = 60_000;

let db: TestDatabase;
let pool: Pool;
let accounts: DemoAccounts;
let web: DevWebClient;
let offline: OfflineHandle;
let browser: Browser;

describe.skipIf(!probe.ok)("web client in Chromium", () => {
  beforeAll(async () => {
    if (!probe.ok) return;
    db = await testDatabase("web");
    pool = createPool({ ...databaseConfig({ DATABASE_URL: db.url }), poolMax: 2 });
    accounts = await seedDemo(pool);
    // Some history, so the statement has more than one page.
    const service = new PaymentService(new PgLedgerStore(pool), paymentsConfig(process.env));
    for (let i = 1; i <= HISTORY_PAYMENTS; i++) {
      await service.authorizePayment({
        idempotencyKey: `web-e2e-history-${i}`,
        payerAccountId: accounts.alice.accountId,
        payeeAccountId: accounts.bob.accountId,
        amountCents: BigInt(100 * i),
        currency: "EUR",
        description: `history ${i}`,
      });
    }
    const prefix = uniqueTopicPrefix();
    const kafkaEnv = sharedKafkaEnv();
    await createLedgerTopics(kafkaEnv, prefix);
    const [webPort = 0, httpPort = 0, lambdaPort = 0] = await freePorts(3);
    web = await startDevWebClient({
      port: webPort,
      apiUrl: `http://127.0.0.1:${httpPort}`,
      databaseUrl: db.url,
      kafkaEnv,
      auth: authConfig(AUTH_ENV),
      accounts,
      env: { OUTBOX_TOPIC_PREFIX: prefix },
    });
    offline = await startOffline({
      httpPort,
      lambdaPort,
      workFolder: `.esbuild/e2e-web-${process.pid}`,
      env: {
        ...AUTH_ENV,
        DATABASE_URL: db.url,
        ...kafkaEnv,
        KAFKA_LOG_LEVEL: "nothing",
        OUTBOX_TOPIC_PREFIX: prefix,
        CORS_ALLOWED_ORIGINS: web.origin,
        DRAIN_SCHEDULE: "rate(1 minute)",
        OUTBOX_NUDGE_MIN_INTERVAL_MS: "0",
        // Each call's "rpc" line (procedure, status, duration) is in offline's output for a failure message.
        POWERTOOLS_LOG_LEVEL: "INFO",
      },
    });
    browser = await launchChromium(probe.executablePath);
  });

  afterAll(async () => {
    await browser?.close();
    await offline?.stop();
    await web?.stop();
    await pool?.end();
    await db?.drop();
  });

  it.each(["binary"] as const)(
    "gRPC-web %s: signs in, pays, sees balance and event, a decline, DUPLICATE replays and a safe retry",
    async (format) => {
      const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      const alice = accounts.alice.accountId;
      try {
        await page.goto(web.url);
        await page.getByRole("button", { name: "Sign in as alice (demo)" }).click();
        await page.getByText("Signed in as alice").waitFor();
        const startCents = await balanceOf(page, alice);

        // Pay with the keyboard: the payee is prefilled with bob's account, Enter submits.
        expect(await page.getByLabel("To (account id)").inputValue()).toBe(accounts.bob.accountId);
        await page.getByLabel(/^Amount/).fill("12.50");
        await page.getByLabel("Description").fill(`coffee (${format})`);
        await page.getByLabel(/^Amount/).press("Enter");
        const paid = await outcome(page, "AUTHORIZED");
        await waitForBalance(page, alice, startCents - 1250n);
        await eventFor(page, paid, "PaymentAuthorized");

        // The same request again (same idempotency key): the original payment, no money moved.
        await page.getByRole("button", { name: "Replay last request" }).click();
        expect(await outcome(page, "DUPLICATE")).toBe(paid);
        expect(await entriesOf(paid)).toBe(2);
        await page.getByRole("button", { name: "Refresh" }).click();
        await waitForBalance(page, alice, startCents - 1250n);

        // More than alice has: declined with the reason, and its event arrives too.
        await page.getByLabel(/^Amount/).fill("5000");
        await page.getByRole("button", { name: "Pay", exact: true }).click();
        const declined = await outcome(page, "DECLINED");
        expect(await page.locator("#pay-outcome .reason").textContent()).toMatch(/^INSUFFICIENT_FUNDS: .+/);
        await eventFor(page, declined, "PaymentDeclined");
        await waitForBalance(page, alice, startCents - 1250n);

        // The answer is lost on the way back: the page retries safely with the same key,
        // and the server answers DUPLICATE for the payment the first attempt made.
        const bodies: Buffer[] = [];
        let dropped = false;
        await page.route("**/payment.v1.PaymentService/AuthorizePayment", async (route) => {
          const request = route.request();
          if (request.method() !== "POST") return route.continue();
          bodies.push(request.postDataBuffer() ?? Buffer.alloc(0));
          if (dropped) return route.continue();
          dropped = true;
          await route.fetch();
          return route.abort("connectionreset");
        });
        await page.getByLabel(/^Amount/).fill("7.25");
        await page.getByLabel("Description").fill(`retried (${format})`);
        await page.getByRole("button", { name: "Pay", exact: true }).click();
        await page.getByText(/Retrying safely in .* with the same idempotency key/).waitFor();
        const retried = await outcome(page, "DUPLICATE");
        await page.unroute("**/payment.v1.PaymentService/AuthorizePayment");
        // Every attempt sent the very same bytes: same idempotency key, same request.
        expect(bodies.length).toBeGreaterThanOrEqual(2);
        for (const body of bodies) expect(body.equals(bodies[0] ?? Buffer.alloc(0))).toBe(true);
        expect(await entriesOf(retried)).toBe(2);
        await waitForBalance(page, alice, startCents - 1250n - 725n);
        await eventFor(page, retried, "PaymentAuthorized");

        // The statement: newest first, five to a page.
        const statement = page.locator("#statement-body tr");
        await page.locator(`#statement-body tr[data-payment-id="${retried}"]`).first().waitFor();
        expect(await statement.count()).toBe(5);
        const firstPage = await statement.evaluateAll((rows) =>
          rows.map((row) => row.getAttribute("data-entry-id")),
        );
        await page.getByRole("button", { name: "Older →" }).click();
        await page.getByText("Page 2").waitFor();
        await page.locator(`#statement-body tr:first-child:not([data-entry-id="${firstPage[0]}"])`).waitFor();
        const secondPage = await statement.evaluateAll((rows) =>
          rows.map((row) => row.getAttribute("data-entry-id")),
        );
        expect(secondPage.length).toBeGreaterThan(0);
        expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);
        await page.getByRole("button", { name: "← Newer" }).click();
        await page.getByText("Page 1").waitFor();

        // Errors are gRPC statuses with the server's message.
        await page.getByText("Open or add an account").click();
        await page.getByLabel("Account id", { exact: true }).fill("not-a-ulid");
        await page.getByRole("button", { name: "Add", exact: true }).click();
        await page
          .locator("#accounts-error")
          .getByText(/^INVALID_ARGUMENT: .+/)
          .waitFor();

        // One last ordinary payment, for the screenshot.
        await page.getByLabel(/^Amount/).fill("4.80");
        await page.getByLabel("Description").fill("lunch");
        await page.getByRole("button", { name: "Pay", exact: true }).click();
        const lunch = await outcome(page, "AUTHORIZED");
        await eventFor(page, lunch, "PaymentAuthorized");
        await page.getByText("Open or add an account").click();
        await mkdir(join(PROJECT_ROOT, ".ci"), { recursive: true });
        await page.screenshot({
          path: join(PROJECT_ROOT, ".ci", `web-client-${format}.png`),
          fullPage: true,
        });

        expect(pageErrors).toEqual([]);
      } finally {
        await context.close();
      }
    },
    240_000,
  );

  it("holds: alice holds, captures part and voids another; bob refunds part of the capture; balances, statement and events follow", async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 1100 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    const alice = accounts.alice.accountId;
    const bob = accounts.bob.accountId;
    try {
      await page.goto(web.url);
      await page.getByRole("button", { name: "Sign in as alice (demo)" }).click();
      await page.getByText("Signed in as alice").waitFor();
      const startCents = await balanceOf(page, alice);

      // A hold: available drops, held rises, nothing moves yet.
      await page.getByLabel(/^Amount/).fill("20.00");
      await page.getByLabel("Description").fill("hotel deposit");
      await page.getByLabel(/Hold only/).check();
      await page.getByRole("button", { name: "Pay", exact: true }).click();
      const held = await outcome(page, "HELD");
      await waitForBalance(page, alice, startCents - 2000n);
      await page
        .locator(`#accounts-body tr[data-account-id="${alice}"] td[data-held-cents="2000"]`)
        .waitFor();
      await paymentShown(page, held, "HELD");
      await eventFor(page, held, "PaymentHeld");
      expect(await entriesOf(held)).toBe(0);

      // Capture part of it: the rest goes back to alice.
      await page.getByLabel(/^Capture/).fill("15.00");
      await page.getByRole("button", { name: "Capture", exact: true }).click();
      await paymentShown(page, held, "CAPTURED");
      await page.getByText(/Captured €15.00; €5.00 released to the payer\./).waitFor();
      await waitForBalance(page, alice, startCents - 1500n);
      await page.locator(`#accounts-body tr[data-account-id="${alice}"] td[data-held-cents="0"]`).waitFor();
      await eventFor(page, held, "PaymentCaptured");
      await page
        .locator(`#statement-body tr[data-payment-id="${held}"][data-kind="CAPTURE"]`)
        .first()
        .waitFor();
      expect(await entriesOf(held)).toBe(2);

      // Another hold, voided.
      await page.getByLabel(/^Amount/).fill("5.00");
      await page.getByLabel("Description").fill("table booking");
      await page.getByRole("button", { name: "Pay", exact: true }).click();
      const voided = await outcome(page, "HELD");
      await paymentShown(page, voided, "HELD");
      await page.getByRole("button", { name: "Void", exact: true }).click();
      await paymentShown(page, voided, "VOIDED");
      await eventFor(page, voided, "PaymentVoided");
      await waitForBalance(page, alice, startCents - 1500n);
      await page.getByLabel(/Hold only/).uncheck();

      // Bob, the payee, refunds part of the capture; the page opens the payment by its id.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("button", { name: "Sign in as bob (demo)" }).click();
      await page.getByText("Signed in as bob").waitFor();
      const bobBefore = await balanceOf(page, bob);
      await page.getByLabel("Payment id").fill(held);
      await page.getByRole("button", { name: "Open", exact: true }).click();
      await paymentShown(page, held, "CAPTURED");
      await page.getByLabel(/^Refund/).fill("4.00");
      await page.getByRole("button", { name: "Refund", exact: true }).click();
      await page.locator('#refund-body tr[data-status="REFUNDED"]').waitFor();
      await waitForBalance(page, bob, bobBefore - 400n);
      await eventFor(page, held, "PaymentRefunded");
      // More than is left: declined, and listed.
      await page.getByLabel(/^Refund/).fill("12.00");
      await page.getByRole("button", { name: "Refund", exact: true }).click();
      await page.locator('#refund-body tr[data-status="DECLINED"]').waitFor();
      await page
        .getByText(/EXCEEDS_REFUNDABLE/)
        .first()
        .waitFor();
      await page
        .locator(`#statement-body tr[data-payment-id="${held}"][data-kind="REFUND"]`)
        .first()
        .waitFor();

      await mkdir(join(PROJECT_ROOT, ".ci"), { recursive: true });
      await page.screenshot({ path: join(PROJECT_ROOT, ".ci", "web-client-holds.png"), fullPage: true });
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 240_000);

  it("a pasted token: bob adds his account by id, and alice's is refused", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(web.url);
      const token = await signLocalToken(authConfig(AUTH_ENV), { subject: "bob" });
      await page.getByLabel("Bearer token (JWT)").fill(token);
      await page.getByRole("button", { name: "Use this token" }).click();
      await page.getByText("Signed in as bob").waitFor();
      await page.getByText("Open or add an account").click();
      const accountId = page.getByLabel("Account id", { exact: true });
      await accountId.fill(accounts.alice.accountId);
      await accountId.press("Enter");
      await page
        .locator("#accounts-error")
        .getByText(/^(NOT_FOUND|PERMISSION_DENIED): .+/)
        .waitFor();
      expect(await page.locator(`tr[data-account-id="${accounts.alice.accountId}"]`).count()).toBe(0);
      await accountId.fill(accounts.bob.accountId);
      await accountId.press("Enter");
      const balance = await balanceOf(page, accounts.bob.accountId);
      expect(balance).toBeGreaterThan(0n);
    } finally {
      await context.close();
    }
  });
});

async function balanceOf(page: Page, accountId: string): Promise<bigint> {
  const cell = page.locator(`#accounts-body tr[data-account-id="${accountId}"] td[data-balance-cents]`);
  await cell.waitFor();
  return BigInt((await cell.getAttribute("data-balance-cents")) ?? "");
}

async function waitForBalance(page: Page, accountId: string, cents: bigint): Promise<void> {
  await page
    .locator(`#accounts-body tr[data-account-id="${accountId}"] td[data-balance-cents="${cents}"]`)
    .waitFor();
}

/** Waits for the payment outcome with this status; returns its payment id. */
async function outcome(page: Page, status: string): Promise<string> {
  const box = page.locator(`#pay-outcome[data-status="${status}"]`);
  await box.waitFor({ timeout: OUTCOME_TIMEOUT_MS }).catch(async (error: unknown) => {
    // What the page says instead: the retry it is in, or the outcome it settled on.
    const progress = await page.locator("#pay-progress").textContent();
    const shown = await page
      .locator("#pay-outcome")
      .evaluate((el) => `${el.dataset.status}: ${el.textContent}`);
    throw new Error(
      `no ${status} outcome; progress "${progress}", outcome "${shown}"\noffline's last output:\n${offline.output().slice(-6000)}`,
      { cause: error },
    );
  });
  const paymentId = await box.getAttribute("data-payment-id");
  expect(paymentId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  return paymentId ?? "";
}

/** Waits until the payment card shows this payment with this status. */
async function paymentShown(page: Page, paymentId: string, status: string): Promise<void> {
  await page
    .locator(`#payment-details[data-payment-id="${paymentId}"][data-status="${status}"]`)
    .waitFor({ timeout: OUTCOME_TIMEOUT_MS });
}

async function eventFor(page: Page, paymentId: string, type: string): Promise<void> {
  await page
    .locator(`#events-list li[data-payment-id="${paymentId}"][data-event-type="${type}"]`)
    .first()
    .waitFor({ timeout: EVENT_TIMEOUT_MS });
}

async function entriesOf(paymentId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM ledger_entries WHERE payment_id = $1",
    [paymentId],
  );
  return rows[0]?.n ?? 0;
}
