import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pageTokenKeys } from "../../lib/api/page-token-keys.ts";
import { pageTokenConfig } from "../../lib/config.ts";
import { ServiceError } from "../../lib/errors.ts";
import { fundAccount } from "../../lib/payments/funding.ts";
import type { Account, AuthorizePaymentCommand } from "../../lib/payments/model.ts";
import { PageTokens } from "../../lib/payments/page-token.ts";
import { PaymentService } from "../../lib/payments/service.ts";
import { checkInvariantsAfterEach } from "../support/invariants.ts";
import { type LedgerFixture, ledgerFixture, tableCounts, uniqueKey } from "../support/ledger.ts";
import { testSecretStore } from "../support/secret-store.ts";

let fx: LedgerFixture;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  fx = await ledgerFixture();
  alice = await fx.openFundedAccount(10_000n, "EUR", "alice");
  bob = await fx.openFundedAccount(0n, "EUR", "bob");
});
afterAll(async () => {
  await fx?.close();
});
// Every test here moves money through the real path: the ledger keeps every invariant after each.
checkInvariantsAfterEach(() => fx?.pool);

function pay(overrides: Partial<AuthorizePaymentCommand> = {}): AuthorizePaymentCommand {
  return {
    idempotencyKey: uniqueKey(),
    payerAccountId: alice.accountId,
    payeeAccountId: bob.accountId,
    amountCents: 100n,
    currency: "EUR",
    description: "coffee",
    ...overrides,
  };
}

async function expectServiceError(
  promise: Promise<unknown>,
  code: string,
  messagePart: string,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  expect((error as ServiceError).code).toBe(code);
  expect((error as ServiceError).message).toContain(messagePart);
}

describe("AuthorizePayment", () => {
  it("moves money with two entries, both balances, one outbox event, in one transaction", async () => {
    const before = await fx.service.getAccountBalance(alice.accountId);
    const result = await fx.service.authorizePayment(pay({ amountCents: 250n }));
    expect(result.status).toBe("AUTHORIZED");
    expect(result.decline).toBeUndefined();
    expect(result.processedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

    const { rows: entries } = await fx.pool.query(
      "SELECT account_id, amount, currency, balance_after FROM ledger_entries WHERE payment_id = $1 ORDER BY amount",
      [result.paymentId],
    );
    const payerAfter = before.availableCents - 250n;
    expect(entries).toEqual([
      { account_id: alice.accountId, amount: -250n, currency: "EUR", balance_after: payerAfter },
      { account_id: bob.accountId, amount: 250n, currency: "EUR", balance_after: expect.any(BigInt) },
    ]);
    expect((await fx.service.getAccountBalance(alice.accountId)).availableCents).toBe(payerAfter);

    const { rows: events } = await fx.pool.query(
      "SELECT event_type, aggregate_type, aggregate_id, payload, attempts, published_at FROM outbox WHERE aggregate_id = $1",
      [result.paymentId],
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_type: "PaymentAuthorized",
      aggregate_type: "Payment",
      attempts: 0,
      published_at: null,
      payload: { payment_id: result.paymentId, amount_cents: 250, currency: "EUR", description: "coffee" },
    });
  });

  it("records a payment that GetPayment returns", async () => {
    const result = await fx.service.authorizePayment(pay({ amountCents: 7n, description: "tea" }));
    const payment = await fx.service.getPayment(result.paymentId);
    expect(payment).toMatchObject({
      paymentId: result.paymentId,
      payerAccountId: alice.accountId,
      payeeAccountId: bob.accountId,
      amountCents: 7n,
      currency: "EUR",
      status: "AUTHORIZED",
      description: "tea",
      createdAt: result.processedAt,
    });
    expect(payment.decline).toBeUndefined();
  });

  it.each([
    ["insufficient funds", "INSUFFICIENT_FUNDS", () => pay({ amountCents: 1_000_000n })],
    ["unknown payer", "ACCOUNT_NOT_FOUND", () => pay({ payerAccountId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" })],
    ["unknown payee", "ACCOUNT_NOT_FOUND", () => pay({ payeeAccountId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" })],
    ["currency mismatch", "CURRENCY_MISMATCH", () => pay({ currency: "USD" })],
    ["same account", "SAME_ACCOUNT", () => pay({ payeeAccountId: alice.accountId })],
  ])(
    "declines %s: recorded as declined, a PaymentDeclined event, no money moved",
    async (_name, code, make) => {
      const before = await tableCounts(fx.pool);
      const balanceBefore = await fx.service.getAccountBalance(alice.accountId);
      const result = await fx.service.authorizePayment(make());
      expect(result.status).toBe("DECLINED");
      expect(result.decline?.code).toBe(code);
      expect(result.decline?.message.length).toBeGreaterThan(0);

      const after = await tableCounts(fx.pool);
      expect(after).toEqual({
        ...before,
        payments: before.payments + 1,
        idempotency_keys: before.idempotency_keys + 1,
        outbox: before.outbox + 1,
      });
      expect((await fx.service.getAccountBalance(alice.accountId)).availableCents).toBe(
        balanceBefore.availableCents,
      );
      const payment = await fx.service.getPayment(result.paymentId);
      expect(payment.status).toBe("DECLINED");
      expect(payment.decline?.code).toBe(code);
      const { rows } = await fx.pool.query("SELECT event_type, payload FROM outbox WHERE aggregate_id = $1", [
        result.paymentId,
      ]);
      expect(rows).toEqual([
        { event_type: "PaymentDeclined", payload: expect.objectContaining({ error_code: code }) },
      ]);
    },
  );

  it("declines a payee account in another currency exactly as a payee that does not exist", async () => {
    const dollars = await fx.openFundedAccount(0n, "USD", "bob");
    const result = await fx.service.authorizePayment(pay({ payeeAccountId: dollars.accountId }));
    const missing = await fx.service.authorizePayment(pay({ payeeAccountId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" }));
    expect(result.decline).toEqual({
      code: "ACCOUNT_NOT_FOUND",
      message: "payee account cannot receive payments in EUR",
    });
    expect(missing.decline).toEqual(result.decline);
  });

  it("declines the same way whichever account's lock comes first, leaving both balances as they were", async () => {
    // Locks go in account id order, so a payer with the smaller id is debited first and one with
    // the larger id is credited-to first; a refusal must undo the half already done.
    const older = await fx.openFundedAccount(50n, "EUR", "older");
    const newer = await fx.openFundedAccount(50n, "EUR", "newer");
    const newerUsd = await fx.openFundedAccount(0n, "USD", "newer-usd");
    expect(older.accountId < newer.accountId && newer.accountId < newerUsd.accountId).toBe(true);
    const cases: Array<[string, string, string, string]> = [
      [older.accountId, newer.accountId, "EUR", "INSUFFICIENT_FUNDS"],
      [newer.accountId, older.accountId, "EUR", "INSUFFICIENT_FUNDS"],
      [older.accountId, newerUsd.accountId, "EUR", "ACCOUNT_NOT_FOUND"],
      [newerUsd.accountId, older.accountId, "EUR", "CURRENCY_MISMATCH"],
    ];
    for (const [payer, payee, currency, code] of cases) {
      const result = await fx.service.authorizePayment(
        pay({ payerAccountId: payer, payeeAccountId: payee, currency, amountCents: 51n }),
      );
      expect(result.decline?.code, `${payer} -> ${payee}`).toBe(code);
    }
    for (const [account, cents] of [
      [older, 50n],
      [newer, 50n],
      [newerUsd, 0n],
    ] as const) {
      expect((await fx.service.getAccountBalance(account.accountId)).availableCents).toBe(cents);
    }
    const { rows } = await fx.pool.query(
      "SELECT count(*)::int AS n FROM ledger_entries WHERE account_id = ANY($1)",
      [[older.accountId, newer.accountId, newerUsd.accountId]],
    );
    expect(rows[0]?.n).toBe(2); // the two funding credits only
  });

  it.each([
    ["idempotency_key", { idempotencyKey: "" }],
    ["idempotency_key", { idempotencyKey: "x".repeat(256) }],
    ["idempotency_key", { idempotencyKey: "a\u0000b" }],
    ["payer_account_id", { payerAccountId: "" }],
    ["payer_account_id", { payerAccountId: "not-a-ulid" }],
    ["payee_account_id", { payeeAccountId: "01ARZ3NDEKTSV4RRFFQ69G5FA" }],
    ["payee_account_id", { payeeAccountId: "01arz3ndektsv4rrffq69g5fav" }],
    ["amount_cents", { amountCents: 0n }],
    ["amount_cents", { amountCents: -5n }],
    ["amount_cents", { amountCents: 9_007_199_254_740_992n }],
    ["currency", { currency: "eur" }],
    ["currency", { currency: "EURO" }],
    ["currency", { currency: "" }],
    ["description", { description: "d".repeat(501) }],
  ] as Array<[string, Partial<AuthorizePaymentCommand>]>)(
    "refuses a bad %s with INVALID_ARGUMENT and writes nothing",
    async (field, overrides) => {
      const before = await tableCounts(fx.pool);
      await expectServiceError(fx.service.authorizePayment(pay(overrides)), "INVALID_ARGUMENT", field);
      expect(await tableCounts(fx.pool)).toEqual(before);
    },
  );

  it("accepts the edges: amount 2^53-1 (declined for funds, not refused), 255-char key, 500-char description", async () => {
    const result = await fx.service.authorizePayment(
      pay({
        amountCents: 9_007_199_254_740_991n,
        idempotencyKey: "k".repeat(255),
        description: "é".repeat(500),
      }),
    );
    expect(result.decline?.code).toBe("INSUFFICIENT_FUNDS");
  });
});

describe("idempotency", () => {
  it("replays an authorized payment as DUPLICATE with the original id and time, writing nothing", async () => {
    const cmd = pay({ amountCents: 11n });
    const first = await fx.service.authorizePayment(cmd);
    const before = await tableCounts(fx.pool);
    const again = await fx.service.authorizePayment(cmd);
    expect(again).toEqual({ ...first, status: "DUPLICATE" });
    expect(await tableCounts(fx.pool)).toEqual(before);
  });

  it("replays a declined payment as the same decline", async () => {
    const cmd = pay({ amountCents: 99_999_999n });
    const first = await fx.service.authorizePayment(cmd);
    expect(first.status).toBe("DECLINED");
    const again = await fx.service.authorizePayment(cmd);
    expect(again).toEqual(first);
  });

  it("refuses the same key with different parameters (ALREADY_EXISTS) and writes nothing", async () => {
    const cmd = pay({ amountCents: 12n });
    const first = await fx.service.authorizePayment(cmd);
    const before = await tableCounts(fx.pool);
    for (const change of [
      { amountCents: 13n },
      { description: "other" },
      { payeeAccountId: alice.accountId },
    ]) {
      await expectServiceError(
        fx.service.authorizePayment({ ...cmd, ...change }),
        "ALREADY_EXISTS",
        first.paymentId,
      );
    }
    expect(await tableCounts(fx.pool)).toEqual(before);
  });

  it("lets a key be reused once it has expired", async () => {
    const shortLived = await ledgerFixture({ keyTtlSeconds: 1 });
    try {
      const payer = await shortLived.openFundedAccount(1_000n);
      const payee = await shortLived.openFundedAccount(0n);
      const cmd = pay({ payerAccountId: payer.accountId, payeeAccountId: payee.accountId, amountCents: 5n });
      const first = await shortLived.service.authorizePayment(cmd);
      expect((await shortLived.service.authorizePayment(cmd)).status).toBe("DUPLICATE");
      // Age the key instead of sleeping: the rule is "expires_at has passed".
      await shortLived.pool.query(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1",
        [cmd.idempotencyKey],
      );
      const later = await shortLived.service.authorizePayment({ ...cmd, amountCents: 6n });
      expect(later.status).toBe("AUTHORIZED");
      expect(later.paymentId).not.toBe(first.paymentId);
    } finally {
      await shortLived.close();
    }
  });
});

describe("reads", () => {
  it("GetAccountBalance returns available, pending and currency; NOT_FOUND for an unknown account", async () => {
    const carol = await fx.openFundedAccount(4_321n, "GBP", "carol");
    expect(await fx.service.getAccountBalance(carol.accountId)).toEqual({
      accountId: carol.accountId,
      availableCents: 4_321n,
      pendingCents: 0n,
      currency: "GBP",
    });
    await expectServiceError(
      fx.service.getAccountBalance("01ARZ3NDEKTSV4RRFFQ69G5FAV"),
      "NOT_FOUND",
      "account",
    );
    await expectServiceError(fx.service.getAccountBalance("nope"), "INVALID_ARGUMENT", "account_id");
  });

  it("GetPayment: NOT_FOUND for an unknown id, INVALID_ARGUMENT for a malformed one", async () => {
    await expectServiceError(fx.service.getPayment("01ARZ3NDEKTSV4RRFFQ69G5FAV"), "NOT_FOUND", "payment");
    await expectServiceError(fx.service.getPayment("x"), "INVALID_ARGUMENT", "payment_id");
  });

  it("a hot account: exact balance at once, credits without balance after, payouts with the exact balance they leave", async () => {
    const shop = await fx.openFundedAccount(0n, "EUR", "shop", true);
    expect(shop.hot).toBe(true);
    expect((await fx.service.getAccount(shop.accountId)).hot).toBe(true);
    expect(bob).toMatchObject({ hot: false });
    for (const cents of [30n, 20n]) {
      const paid = await fx.service.authorizePayment(
        pay({ payeeAccountId: shop.accountId, amountCents: cents }),
      );
      expect(paid.status).toBe("AUTHORIZED");
    }
    // Read-your-writes: the credits count before any roll-up.
    expect((await fx.service.getAccountBalance(shop.accountId)).availableCents).toBe(50n);
    const paidOut = await fx.service.authorizePayment(
      pay({ payerAccountId: shop.accountId, payeeAccountId: bob.accountId, amountCents: 45n }),
    );
    expect(paidOut.status).toBe("AUTHORIZED");
    const short = await fx.service.authorizePayment(
      pay({ payerAccountId: shop.accountId, payeeAccountId: bob.accountId, amountCents: 6n }),
    );
    expect(short.decline?.code).toBe("INSUFFICIENT_FUNDS");
    await fx.service.authorizePayment(pay({ payeeAccountId: shop.accountId, amountCents: 1n }));
    expect((await fx.service.getAccountBalance(shop.accountId)).availableCents).toBe(6n);

    const page = await fx.service.listLedgerEntries({
      accountId: shop.accountId,
      pageSize: 10,
      pageToken: "",
    });
    expect(page.entries.map((e) => [e.direction, e.amountCents, e.balanceAfterCents])).toEqual([
      ["CREDIT", 1n, undefined],
      ["DEBIT", 45n, 5n],
      ["CREDIT", 20n, undefined],
      ["CREDIT", 30n, undefined],
    ]);
    // A roll-up moves the unfolded credit into the balance row; the balance does not change.
    expect(await fx.store.rollUpHotCredits()).toBeGreaterThanOrEqual(1);
    expect((await fx.service.getAccountBalance(shop.accountId)).availableCents).toBe(6n);
    const { rows } = await fx.pool.query<{ available: bigint; pending: bigint }>(
      `SELECT available, (SELECT count(*) FROM hot_credits WHERE account_id = $1) AS pending
       FROM balances WHERE account_id = $1`,
      [shop.accountId],
    );
    expect(rows[0]).toEqual({ available: 6n, pending: 0n });
  });

  it("ListLedgerEntries pages an account's statement newest first with balance after each entry", async () => {
    const dave = await fx.openFundedAccount(1_000n, "EUR", "dave");
    const erin = await fx.openFundedAccount(0n, "EUR", "erin");
    for (const cents of [1n, 2n, 3n, 4n, 5n]) {
      await fx.service.authorizePayment(
        pay({ payerAccountId: dave.accountId, payeeAccountId: erin.accountId, amountCents: cents }),
      );
    }
    const seen: Array<[string, bigint, bigint | undefined]> = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await fx.service.listLedgerEntries({ accountId: dave.accountId, pageSize: 2, pageToken });
      expect(page.entries.length).toBeLessThanOrEqual(2);
      for (const e of page.entries) seen.push([e.direction, e.amountCents, e.balanceAfterCents]);
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== "");
    expect(pages).toBe(3);
    expect(seen).toEqual([
      ["DEBIT", 5n, 985n],
      ["DEBIT", 4n, 990n],
      ["DEBIT", 3n, 994n],
      ["DEBIT", 2n, 997n],
      ["DEBIT", 1n, 999n],
      ["CREDIT", 1_000n, 1_000n],
    ]);
  });

  it("ListLedgerEntries: an empty statement, unknown account, bad page size, bad token", async () => {
    const empty = await fx.openFundedAccount(0n);
    expect(
      await fx.service.listLedgerEntries({ accountId: empty.accountId, pageSize: 0, pageToken: "" }),
    ).toEqual({
      entries: [],
      nextPageToken: "",
    });
    await expectServiceError(
      fx.service.listLedgerEntries({ accountId: "01ARZ3NDEKTSV4RRFFQ69G5FAV", pageSize: 10, pageToken: "" }),
      "NOT_FOUND",
      "account",
    );
    for (const pageSize of [-1, 101]) {
      await expectServiceError(
        fx.service.listLedgerEntries({ accountId: empty.accountId, pageSize, pageToken: "" }),
        "INVALID_ARGUMENT",
        "page_size",
      );
    }
    await expectServiceError(
      fx.service.listLedgerEntries({ accountId: empty.accountId, pageSize: 10, pageToken: "garbage" }),
      "INVALID_ARGUMENT",
      "page_token",
    );
  });
});

describe("page token keys from the stage's secret", () => {
  it("another container accepts the tokens, across a rotation; an unreadable secret -> UNAVAILABLE", async () => {
    const store = testSecretStore();
    const secretId = `payment-ledger/test/page-token-${process.pid}-${Date.now()}`;
    const [first, second] = ["1".repeat(32), "2".repeat(32)];
    // No cache, so each container sees a rotation at once.
    const env = { PAGE_TOKEN_SECRET_ARN: secretId, SECRETS_CACHE_TTL_SECONDS: "0" };
    const container = () =>
      new PaymentService(
        fx.store,
        { idempotencyKeyTtlSeconds: 60 },
        new PageTokens(pageTokenKeys(pageTokenConfig(env), store)),
      );
    const dave = await fx.openFundedAccount(10n, "EUR", "dave");
    for (const cents of [1n, 2n]) {
      await fx.service.authorizePayment(pay({ payerAccountId: dave.accountId, amountCents: cents }));
    }
    const query = { accountId: dave.accountId, pageSize: 1 };
    const caller = { owner: "dave" };
    try {
      await store.put(secretId, first);
      const issued = await container().listLedgerEntries({ ...query, pageToken: "" }, caller);
      expect(
        (await container().listLedgerEntries({ ...query, pageToken: issued.nextPageToken }, caller)).entries,
      ).toHaveLength(1);
      // The service's default (local) key is another key: its tokens are refused here, and vice versa.
      await expectServiceError(
        fx.service.listLedgerEntries({ ...query, pageToken: issued.nextPageToken }, caller),
        "INVALID_ARGUMENT",
        "page_token",
      );

      await store.put(secretId, JSON.stringify({ current: second, previous: first }));
      const rotated = container();
      expect(
        (await rotated.listLedgerEntries({ ...query, pageToken: issued.nextPageToken }, caller)).entries,
      ).toHaveLength(1);
      const fresh = await rotated.listLedgerEntries({ ...query, pageToken: "" }, caller);
      expect(fresh.nextPageToken).not.toBe(issued.nextPageToken);

      await store.put(secretId, second);
      await expectServiceError(
        container().listLedgerEntries({ ...query, pageToken: issued.nextPageToken }, caller),
        "INVALID_ARGUMENT",
        "page_token",
      );
      expect(
        (await container().listLedgerEntries({ ...query, pageToken: fresh.nextPageToken }, caller)).entries,
      ).toHaveLength(1);

      const unreadable = new PaymentService(
        fx.store,
        { idempotencyKeyTtlSeconds: 60 },
        new PageTokens(
          pageTokenKeys(pageTokenConfig({ PAGE_TOKEN_SECRET_ARN: `${secretId}-missing` }), store),
        ),
      );
      await expectServiceError(
        unreadable.listLedgerEntries({ ...query, pageToken: fresh.nextPageToken }, caller),
        "UNAVAILABLE",
        "retry later",
      );
    } finally {
      await store.close();
    }
  });
});

describe("CreateAccount", () => {
  it("opens an account with a zero balance; system accounts may go negative, others may not", async () => {
    const account = await fx.service.createAccount({ owner: "frank", currency: "CHF", system: false });
    expect(account).toMatchObject({ owner: "frank", currency: "CHF", system: false });
    expect(account.accountId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect((await fx.service.getAccountBalance(account.accountId)).availableCents).toBe(0n);

    const treasury = await fx.service.createAccount({ owner: "ops", currency: "CHF", system: true });
    const funded = await fx.service.authorizePayment(
      pay({
        payerAccountId: treasury.accountId,
        payeeAccountId: account.accountId,
        currency: "CHF",
        amountCents: 50n,
      }),
    );
    expect(funded.status).toBe("AUTHORIZED");
    expect((await fx.service.getAccountBalance(treasury.accountId)).availableCents).toBe(-50n);
  });

  it("refuses a bad owner or currency", async () => {
    await expectServiceError(
      fx.service.createAccount({ owner: "", currency: "EUR", system: false }),
      "INVALID_ARGUMENT",
      "owner",
    );
    await expectServiceError(
      fx.service.createAccount({ owner: "x", currency: "E1R", system: false }),
      "INVALID_ARGUMENT",
      "currency",
    );
  });
});

describe("funding from the treasury", () => {
  it("is an ordinary payment, replayed (not repeated) when run again, and refused loudly when declined", async () => {
    const treasury = await fx.systemAccount("EUR");
    const carol = await fx.service.createAccount({ owner: "carol", currency: "EUR", system: false });
    const first = await fundAccount(fx.service, { treasury, account: carol, amountCents: 700n });
    expect(first.status).toBe("AUTHORIZED");
    const again = await fundAccount(fx.service, { treasury, account: carol, amountCents: 700n });
    expect(again).toMatchObject({ status: "DUPLICATE", paymentId: first.paymentId });
    expect((await fx.service.getAccountBalance(carol.accountId)).availableCents).toBe(700n);

    const dollars = await fx.service.createAccount({ owner: "carol", currency: "USD", system: false });
    const declined = await fundAccount(fx.service, { treasury, account: dollars, amountCents: 1n }).catch(
      (e: unknown) => e,
    );
    expect(declined).toBeInstanceOf(ServiceError);
    expect((declined as ServiceError).code).toBe("FAILED_PRECONDITION");
    expect((declined as ServiceError).message).toMatch(/payer account in EUR/);
  });
});
