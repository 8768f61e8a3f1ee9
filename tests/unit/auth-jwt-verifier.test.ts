import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnauthenticatedError } from "../../lib/auth/errors.ts";
import { createTokenVerifier } from "../../lib/auth/jwt-verifier.ts";
import { signLocalToken } from "../../lib/auth/local-token.ts";
import { authConfig, ConfigError, LOCAL_JWT_SECRET } from "../../lib/config.ts";
import { ServiceError } from "../../lib/errors.ts";

const secretConfig = authConfig({ JWT_SECRET: "unit-test-secret-unit-test-secret-0123" });

async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  return error as ServiceError;
}

describe("auth config", () => {
  it("defaults to the local secret and says so", () => {
    const config = authConfig({});
    expect(config).toMatchObject({
      secret: LOCAL_JWT_SECRET,
      usingLocalSecret: true,
      jwksUrl: undefined,
      issuer: "payment-ledger-local",
      audience: "payment-ledger",
      operatorClaim: "scope",
      operatorScope: "ledger:operator",
    });
    expect(authConfig({ JWT_JWKS_URL: "https://idp.example/jwks.json" }).usingLocalSecret).toBe(false);
  });

  it("refuses short secrets and malformed JWKS URLs", () => {
    expect(() => authConfig({ JWT_SECRET: "short" })).toThrow(ConfigError);
    expect(() => authConfig({ JWT_JWKS_URL: "not a url" })).toThrow(ConfigError);
  });
});

describe("HS256 verifier", () => {
  const verifier = createTokenVerifier(secretConfig);

  it("returns the subject, and operator only with the operator scope", async () => {
    expect(await verifier.verify(await signLocalToken(secretConfig, { subject: "alice" }))).toEqual({
      subject: "alice",
      operator: false,
      validUntilMs: expect.any(Number),
    });
    expect(
      await verifier.verify(await signLocalToken(secretConfig, { subject: "ops", operator: true })),
    ).toEqual({
      subject: "ops",
      operator: true,
      validUntilMs: expect.any(Number),
    });
  });

  it("reads the operator role from a configured list claim", async () => {
    const config = authConfig({
      JWT_SECRET: secretConfig.secret,
      JWT_OPERATOR_CLAIM: "cognito:groups",
      OPERATOR_SCOPE: "ledger-operators",
    });
    const sign = (groups: unknown) =>
      new SignJWT({ "cognito:groups": groups })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("ops")
        .setIssuer(config.issuer)
        .setAudience(config.audience)
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(config.secret));
    const v = createTokenVerifier(config);
    expect((await v.verify(await sign(["readers", "ledger-operators"]))).operator).toBe(true);
    expect((await v.verify(await sign(["readers"]))).operator).toBe(false);
    expect((await v.verify(await sign({ "ledger-operators": true }))).operator).toBe(false);
  });

  it("refuses a token without a subject", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(secretConfig.issuer)
      .setAudience(secretConfig.audience)
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secretConfig.secret));
    expect(await rejection(verifier.verify(token))).toBeInstanceOf(UnauthenticatedError);
  });

  it("refuses an RS256 token: the algorithm is pinned", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256" })
      .setSubject("alice")
      .setIssuer(secretConfig.issuer)
      .setAudience(secretConfig.audience)
      .setExpirationTime("5m")
      .sign(privateKey);
    const error = await rejection(verifier.verify(token));
    expect(error.code).toBe("UNAUTHENTICATED");
  });
});

describe("JWKS verifier", () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;
  let serving = true;

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    server = createServer((_req, res) => {
      if (!serving) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => {
    server?.close();
  });

  const sign = (kid: string) =>
    new SignJWT({ scope: "ledger:operator" })
      .setProtectedHeader({ alg: "ES256", kid })
      .setSubject("ops")
      .setIssuer("https://idp.test")
      .setAudience("ledger")
      .setExpirationTime("5m")
      .sign(privateKey);
  const config = () =>
    authConfig({ JWT_JWKS_URL: jwksUrl, JWT_ISSUER: "https://idp.test", JWT_AUDIENCE: "ledger" });

  it("verifies against the key set", async () => {
    expect(await createTokenVerifier(config()).verify(await sign("k1"))).toEqual({
      subject: "ops",
      operator: true,
      validUntilMs: expect.any(Number),
    });
  });

  it("refuses a token signed with a key not in the set, and an HS256 token", async () => {
    const verifier = createTokenVerifier(config());
    expect((await rejection(verifier.verify(await sign("k2")))).code).toBe("UNAUTHENTICATED");
    const hs = await signLocalToken({ ...config(), secret: LOCAL_JWT_SECRET }, { subject: "x" });
    expect((await rejection(verifier.verify(hs))).code).toBe("UNAUTHENTICATED");
  });

  it("answers UNAVAILABLE, not UNAUTHENTICATED, when the key set cannot be fetched", async () => {
    serving = false;
    try {
      const error = await rejection(createTokenVerifier(config()).verify(await sign("k1")));
      expect(error.code).toBe("UNAVAILABLE");
    } finally {
      serving = true;
    }
  });
});

describe("token issue time", () => {
  const NOW_MS = Date.UTC(2026, 0, 1, 12);
  const nowS = NOW_MS / 1000;
  const sign = (iat: number | undefined, config = secretConfig) => {
    const jwt = new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setIssuer(config.issuer)
      .setAudience(config.audience)
      .setExpirationTime(nowS + 3600);
    if (iat !== undefined) jwt.setIssuedAt(iat);
    return jwt.sign(new TextEncoder().encode(config.secret));
  };

  it("refuses a token issued in the future beyond the clock tolerance (5 s), accepts one within it", async () => {
    const verifier = createTokenVerifier(secretConfig, { now: () => NOW_MS });
    const error = await rejection(verifier.verify(await sign(nowS + 60)));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error.message).toBe("token was issued in the future");
    await expect(verifier.verify(await sign(nowS + 4))).resolves.toMatchObject({ subject: "alice" });
  });

  it("with JWT_MAX_TOKEN_AGE_SECONDS, refuses older tokens and tokens without iat", async () => {
    const config = authConfig({
      JWT_SECRET: "unit-test-secret-unit-test-secret-0123",
      JWT_MAX_TOKEN_AGE_SECONDS: "600",
    });
    const verifier = createTokenVerifier(config, { now: () => NOW_MS });
    await expect(verifier.verify(await sign(nowS - 300, config))).resolves.toMatchObject({
      subject: "alice",
    });
    expect((await rejection(verifier.verify(await sign(nowS - 3600, config)))).message).toBe(
      "token is older than the maximum token age",
    );
    expect((await rejection(verifier.verify(await sign(undefined, config)))).code).toBe("UNAUTHENTICATED");
  });

  it("says until when the token counts: its exp, or iat plus the maximum age when sooner", async () => {
    const verifier = createTokenVerifier(secretConfig, { now: () => NOW_MS });
    expect((await verifier.verify(await sign(nowS))).validUntilMs).toBe((nowS + 3600) * 1000);
    const config = authConfig({
      JWT_SECRET: "unit-test-secret-unit-test-secret-0123",
      JWT_MAX_TOKEN_AGE_SECONDS: "600",
    });
    const aged = createTokenVerifier(config, { now: () => NOW_MS });
    expect((await aged.verify(await sign(nowS - 300, config))).validUntilMs).toBe((nowS + 300) * 1000);
  });

  it("a cached token stops being accepted once it passes the maximum age", async () => {
    const config = authConfig({
      JWT_SECRET: "unit-test-secret-unit-test-secret-0123",
      JWT_MAX_TOKEN_AGE_SECONDS: "600",
    });
    let now = NOW_MS;
    const verifier = createTokenVerifier(config, { now: () => now });
    const token = await sign(nowS, config);
    await verifier.verify(token);
    now += 700_000;
    expect((await rejection(verifier.verify(token))).code).toBe("UNAUTHENTICATED");
  });
});
