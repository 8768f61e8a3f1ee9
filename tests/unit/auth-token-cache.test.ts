import { describe, expect, it } from "vitest";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { VerifiedTokenCache } from "../../lib/auth/token-cache.ts";
import { authConfig } from "../../lib/config.ts";

const alice = { subject: "alice", operator: false, validUntilMs: 1_000 };

describe("VerifiedTokenCache", () => {
  it("answers until the entry's expiry, then forgets it", () => {
    const cache = new VerifiedTokenCache(10);
    cache.set("t", alice, 1_000);
    expect(cache.get("t", 999)).toBe(alice);
    expect(cache.get("t", 1_000)).toBeUndefined();
    expect(cache.get("t", 0)).toBeUndefined();
  });

  it("evicts the oldest entry when full, and keeps nothing with size 0", () => {
    const cache = new VerifiedTokenCache(2);
    cache.set("a", alice, 10);
    cache.set("b", alice, 10);
    cache.set("c", alice, 10);
    expect([cache.get("a", 0), cache.get("b", 0), cache.get("c", 0)]).toEqual([undefined, alice, alice]);
    const none = new VerifiedTokenCache(0);
    none.set("a", alice, 10);
    expect(none.get("a", 0)).toBeUndefined();
  });
});

describe("verifier with its cache", () => {
  it("refuses a cached token once it has expired", async () => {
    const config = authConfig({
      JWT_SECRET: "cache-test-secret-cache-test-secret-01",
      JWT_CLOCK_TOLERANCE_SECONDS: "0",
    });
    let now = Date.now();
    const verifier = createTokenVerifier(config, { now: () => now });
    const token = await signLocalToken(config, { subject: "alice", ttlSeconds: 60 });
    const principal = { subject: "alice", operator: false, validUntilMs: expect.any(Number) };
    expect(verifier.verified(token)).toBeUndefined();
    expect(await verifier.verify(token)).toEqual(principal);
    expect(verifier.verified(token)).toEqual(principal); // without waiting
    expect(await verifier.verify(token)).toEqual(principal); // from the cache
    now += 61_000;
    expect(verifier.verified(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toThrow("token has expired");
  });

  it("never caches a refusal", async () => {
    const config = authConfig({ JWT_SECRET: "cache-test-secret-cache-test-secret-01" });
    const verifier = createTokenVerifier(config);
    const other = authConfig({ JWT_SECRET: "another-secret-another-secret-another-1" });
    const forged = await signLocalToken(other, { subject: "alice" });
    await expect(verifier.verify(forged)).rejects.toThrow("signature");
    expect(verifier.verified(forged)).toBeUndefined();
    await expect(verifier.verify(forged)).rejects.toThrow("signature");
  });
});
