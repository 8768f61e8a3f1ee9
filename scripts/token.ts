/**
 * Mints an HS256 token for local calls: `npm run token -- --sub alice [--operator] [--ttl 3600]`.
 * Signed with JWT_SECRET (default: the local development secret), with the
 * issuer and audience the api expects under the same environment.
 */
import { parseArgs } from "node:util";
import { signLocalToken } from "../lib/auth/local-token.ts";
import { authConfig } from "../lib/config.ts";

const { values } = parseArgs({
  options: {
    sub: { type: "string" },
    operator: { type: "boolean", default: false },
    ttl: { type: "string", default: "3600" },
  },
});

const config = authConfig(process.env);
if (!values.sub) {
  console.error("usage: npm run token -- --sub <subject> [--operator] [--ttl <seconds>]");
  process.exit(2);
}
if (config.jwksUrl) {
  console.error(
    "JWT_JWKS_URL is set: the api verifies against that key set, so a local token would be refused",
  );
  process.exit(2);
}
const ttlSeconds = Number(values.ttl);
if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
  console.error("--ttl must be a positive number of seconds");
  process.exit(2);
}
console.log(await signLocalToken(config, { subject: values.sub, operator: values.operator, ttlSeconds }));
