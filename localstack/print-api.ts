/**
 * Printed by localstack/deploy.sh after deploying the local stage: the api's function URL and a
 * buf curl call with a token the deployed api accepts (signed with the JWT settings of this shell,
 * the ones the local stage was deployed with).
 *
 *   npx tsx localstack/print-api.ts <LocalStack endpoint>
 */
import { signLocalToken } from "../lib/auth/local-token.ts";
import { authConfig } from "../lib/config.ts";
import { apiFunctionUrl, bufCurl } from "../tools/local-services/localstack-api.ts";

const endpoint = process.argv[2] ?? "http://127.0.0.1:4566";
const target = await apiFunctionUrl(endpoint);
const token = await signLocalToken(authConfig(process.env), { subject: "alice", ttlSeconds: 8 * 3600 });
console.log(
  [
    "",
    `api: function URL ${target.url}`,
    `     (offline: send to ${target.baseUrl} with 'Host: ${target.host}')`,
    "",
    "Health check, then open an account as alice (token valid 8 h):",
    "",
    bufCurl(target, "Check", {}, undefined, "grpc.health.v1.Health"),
    "",
    bufCurl(target, "CreateAccount", { currency: "EUR" }, token),
    "",
  ].join("\n"),
);
