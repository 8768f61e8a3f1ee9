import { cleanupMiddlewares } from "@aws-lambda-powertools/commons";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { CorsPolicy } from "../../rpc/index.ts";

type Request = {
  event: APIGatewayProxyEventV2;
  response: APIGatewayProxyStructuredResultV2 | null | undefined;
};

/**
 * Answers preflights itself and adds CORS headers to every other answer,
 * errors included. The early answer skips every `after`, so it runs the
 * cleanups earlier middlewares registered (log keys), as Powertools' do.
 */
export function corsMiddleware(
  policy: CorsPolicy,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  const addHeaders = (request: Request): void => {
    if (!request.response) return;
    // The answer's headers object is this call's own (lambdaResultFrom builds it); the policy's is shared.
    request.response.headers = Object.assign(
      request.response.headers ?? {},
      policy.response(request.event.headers?.origin),
    );
  };
  return {
    name: "cors",
    before: async (request) => {
      if (request.event.requestContext.http.method !== "OPTIONS") return undefined;
      await cleanupMiddlewares(request);
      return { statusCode: 204, headers: { ...policy.preflight(request.event.headers?.origin) }, body: "" };
    },
    after: addHeaders,
    onError: addHeaders,
  };
}
