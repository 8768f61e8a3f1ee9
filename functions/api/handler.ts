import { createApiHandler } from "../../lib/api/create-api-handler.ts";
import { apiDependenciesFromEnv } from "../../lib/api/dependencies.ts";

// Module scope: one pool, one token verifier and one gateway per container.
export const handler = createApiHandler(apiDependenciesFromEnv(process.env));
