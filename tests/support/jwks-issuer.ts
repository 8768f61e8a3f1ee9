/**
 * An identity provider for a deployed stage that verifies tokens against JWT_JWKS_URL (dev,
 * prod): an ES256 key pair, its public key served as a JWKS on 127.0.0.1 (as Cognito serves
 * its pool's), and tokens signed with the private key for the issuer, audience and operator
 * claim the deployed function was configured with. The key set is served by one process (the
 * LocalStack tests' keeper, which outlives their files); `issuerSigner` signs in another.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import type { AuthConfig } from "../../lib/config.ts";

/** A token the api configured with `config` accepts (1 h). */
export type IssueToken = (config: AuthConfig, subject: string, operator?: boolean) => Promise<string>;

export interface JwksIssuer {
  /** Where the key set is served, for JWT_JWKS_URL. */
  jwksUrl: string;
  /** The signing key (a test key that lives as long as the issuer), for `issuerSigner` elsewhere. */
  privateJwk: JWK;
  token: IssueToken;
  close(): Promise<void>;
}

const KEY_ID = "test-issuer-1";
const ALG = "ES256";

export async function startJwksIssuer(): Promise<JwksIssuer> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
  const keys = { keys: [{ ...(await exportJWK(publicKey)), kid: KEY_ID, alg: ALG, use: "sig" }] };
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(keys));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const privateJwk = await exportJWK(privateKey);
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    privateJwk,
    token: issuerSigner(privateJwk),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Signs tokens with an issuer's private key, as the issuer itself does. */
export function issuerSigner(privateJwk: JWK): IssueToken {
  const key = importJWK(privateJwk, ALG);
  return async (config, subject, operator = false) =>
    new SignJWT(operator ? { [config.operatorClaim]: config.operatorScope } : {})
      .setProtectedHeader({ alg: ALG, kid: KEY_ID, typ: "JWT" })
      .setSubject(subject)
      .setIssuer(config.issuer)
      .setAudience(config.audience)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(await key);
}
