import { describe, expect, it } from "vitest";
import { pageTokenKeyring } from "../../lib/api/page-token-keys.ts";
import { LOCAL_PAGE_TOKEN_SECRET, pageTokenConfig } from "../../lib/config.ts";
import { InvalidArgumentError } from "../../lib/errors.ts";
import { fixedPageTokenKeys, PageTokens } from "../../lib/payments/page-token.ts";

const KEY = "k".repeat(32);
const OTHER_KEY = "o".repeat(32);
const ENTRY = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
const scope = { accountId: "01BX5ZZKBKACTAV9WEVGEMMVRZ", owner: "alice" };
const tokens = new PageTokens(fixedPageTokenKeys({ current: KEY }));

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return (error as Error).message;
}

describe("page tokens", () => {
  it("round-trip the entry a page ended with, for the scope they were issued for", async () => {
    const token = await tokens.issue(scope, ENTRY);
    expect(await tokens.open(scope, token)).toBe(ENTRY);
    expect(await tokens.open(scope, "")).toBeUndefined();
  });

  it("are refused, all with one message, anywhere else", async () => {
    const token = await tokens.issue(scope, ENTRY);
    const messages = new Set<string>();
    for (const [other, candidate] of [
      [{ ...scope, accountId: ENTRY }, token],
      [{ ...scope, owner: "bob" }, token],
      [{ ...scope, owner: "" }, token],
      [scope, token.replace(ENTRY, "01ARZ3NDEKTSV4RRFFQ69G5FAW")],
      [scope, await new PageTokens(fixedPageTokenKeys({ current: OTHER_KEY })).issue(scope, ENTRY)],
      [scope, "garbage"],
      [scope, Buffer.from("v1:5").toString("base64url")],
      [scope, `${token} `],
    ] as const) {
      messages.add(await refusal(tokens.open(other, candidate)));
    }
    expect([...messages]).toEqual([
      "page_token: is not a token issued for this listing; list again without one",
    ]);
  });

  it("refuse a token that differs only in the spare bits of its last character", async () => {
    const token = await tokens.issue(scope, ENTRY);
    const last = token.at(-1) ?? "";
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const base = alphabet.indexOf(last) & ~3;
    for (let spare = 0; spare < 4; spare++) {
      const variant = `${token.slice(0, -1)}${alphabet[base + spare]}`;
      if (variant === token) continue;
      await refusal(tokens.open(scope, variant));
    }
  });

  it("accept tokens of the previous key while rotating, and sign with the current one", async () => {
    const old = await tokens.issue(scope, ENTRY);
    const rotating = new PageTokens(fixedPageTokenKeys({ current: OTHER_KEY, previous: KEY }));
    expect(await rotating.open(scope, old)).toBe(ENTRY);
    const fresh = await rotating.issue(scope, ENTRY);
    expect(fresh).not.toBe(old);
    expect(await new PageTokens(fixedPageTokenKeys({ current: OTHER_KEY })).open(scope, fresh)).toBe(ENTRY);
  });
});

describe("the page token secret", () => {
  it("is the key itself, or current and previous while rotating", () => {
    expect(pageTokenKeyring(KEY)).toEqual({ current: KEY });
    expect(pageTokenKeyring(JSON.stringify({ current: KEY }))).toEqual({ current: KEY });
    expect(pageTokenKeyring(JSON.stringify({ current: KEY, previous: OTHER_KEY }))).toEqual({
      current: KEY,
      previous: OTHER_KEY,
    });
  });

  it.each([
    ["short", /at least 32/],
    [JSON.stringify({ previous: KEY }), /current/],
    [JSON.stringify({ current: KEY, previous: "short" }), /previous/],
    ["{not json", /not JSON/],
  ])("refuses %s", (value, reason) => {
    expect(() => pageTokenKeyring(value)).toThrow(reason);
  });
});

describe("PAGE_TOKEN_SECRET and PAGE_TOKEN_SECRET_ARN", () => {
  it("default to the public local key, and say so", () => {
    expect(pageTokenConfig({})).toEqual({
      secret: LOCAL_PAGE_TOKEN_SECRET,
      secretRef: undefined,
      usingLocalSecret: true,
    });
  });

  it("take a key of at least 32 characters, or a secret to read it from", () => {
    expect(pageTokenConfig({ PAGE_TOKEN_SECRET: KEY })).toMatchObject({
      secret: KEY,
      usingLocalSecret: false,
    });
    expect(() => pageTokenConfig({ PAGE_TOKEN_SECRET: "short" })).toThrow(/at least 32/);
    expect(pageTokenConfig({ PAGE_TOKEN_SECRET_ARN: "payment-ledger/dev/page-token" })).toMatchObject({
      secretRef: { id: "payment-ledger/dev/page-token", ttlMs: 300_000 },
      usingLocalSecret: false,
    });
  });
});
