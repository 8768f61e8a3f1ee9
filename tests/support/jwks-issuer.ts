/**
 * An identity provider for a deployed stage that verifies tokens against JWT_JWKS_URL (dev,
 * prod): an ES256 key pair, its public key served as a JWKS on 127.0.0.1 (as Cognito serves
 * its pool's), and tokens signed with the private key for the issuer, audience and operator
 * claim the deployed function was configured with.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { AuthConfig } from "../../lib/config.ts";

export interface JwksIssuer {
  /** Where the key set is served, for JWT_JWKS_URL. */
  jwksUrl: string;
  /** A token the api configured with `config` accepts (1 h). */
  token(config: AuthConfig, subject: string, operator?: boolean): Promise<string>;
  close(): Promise<void>;
}

const KEY_ID = "test-issuer-1";

export async function startJwksIssuer(): Promise<JwksIssuer> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const keys = { keys: [{ ...(await exportJWK(publicKey)), kid: KEY_ID, alg: "ES256", use: "sig" }] };
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(keys));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    token: (config, subject, operator = false) =>
      new SignJWT(operator ? { [config.operatorClaim]: config.operatorScope } : {})
        .setProtectedHeader({ alg: "ES256", kid: KEY_ID, typ: "JWT" })
        .setSubject(subject)
        .setIssuer(config.issuer)
        .setAudience(config.audience)
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(privateKey),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
