import "../../lib/observability/source-mapped-stacks.ts";
import { createApiHandler } from "../../lib/api/create-api-handler.ts";
import { apiDependenciesFromEnv } from "../../lib/api/dependencies.ts";
import { lambdaTracingFromEnv } from "../../lib/observability/lambda-tracing.ts";

// Every call needs fetch's Headers (Connect-ES), which Node loads with the rest of its fetch
// implementation (undici) on first touch: a third of the init (BENCHMARKS.md, cold start). Done
// here it is part of the init, not the first caller's wait.
new Headers();

// Module scope: one pool, one token verifier and one gateway per container.
// X-Ray only when XRAY_TRACING_ENABLED: otherwise nothing of it is loaded.
const tracing = await lambdaTracingFromEnv(process.env);
export const handler = createApiHandler({
  ...apiDependenciesFromEnv(process.env),
  ...(tracing && { tracing }),
});
