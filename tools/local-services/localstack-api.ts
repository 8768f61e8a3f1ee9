/**
 * The api as deployed into LocalStack: its Lambda function URL, and how to call it from this
 * machine without public DNS.
 *
 * LocalStack routes a function URL by the request's Host
 * (`<url-id>.lambda-url.<region>.localhost.localstack.cloud`); that name resolves to 127.0.0.1
 * only through public DNS. Sending the request to LocalStack's own address with that Host works
 * offline as well, for buf curl (`-H 'Host: …'`) and for Node clients.
 */
import { request as httpRequest } from "node:http";
import { GetFunctionUrlConfigCommand, LambdaClient } from "@aws-sdk/client-lambda";

export interface FunctionUrlTarget {
  /** The URL LocalStack reports, e.g. http://abc.lambda-url.us-east-1.localhost.localstack.cloud:4566/ */
  url: string;
  /** Where to send requests: LocalStack's own endpoint. */
  baseUrl: string;
  /** The Host header that selects the function. */
  host: string;
}

export const LOCALSTACK_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;

export async function apiFunctionUrl(
  endpoint: string,
  functionName = "payment-ledger-local-api",
  region = "us-east-1",
): Promise<FunctionUrlTarget> {
  const lambda = new LambdaClient({ endpoint, region, credentials: LOCALSTACK_CREDENTIALS });
  try {
    const { FunctionUrl } = await lambda.send(
      new GetFunctionUrlConfigCommand({ FunctionName: functionName }),
    );
    if (!FunctionUrl) throw new Error(`${functionName} has no function URL`);
    return { url: FunctionUrl, baseUrl: endpoint.replace(/\/$/, ""), host: new URL(FunctionUrl).host };
  } finally {
    lambda.destroy();
  }
}

/** A `buf curl` call of the api through the function URL, ready to paste in the project directory. */
export function bufCurl(
  target: FunctionUrlTarget,
  method: string,
  body: object,
  token?: string,
  service = "payment.v1.PaymentService",
): string {
  return [
    "npx buf curl --protocol grpcweb --schema proto \\",
    `  -H 'Host: ${target.host}' \\`,
    ...(token ? [`  -H 'Authorization: Bearer ${token}' \\`] : []),
    `  -d '${JSON.stringify(body)}' \\`,
    `  ${target.baseUrl}/${service}/${method}`,
  ].join("\n");
}

/**
 * A fetch for clients such as connect-web that sends each request to LocalStack with the
 * function URL's Host. (Node's fetch drops a Host header; node:http keeps it.)
 */
export function fetchWithHost(host: string): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    headers.set("host", host);
    const body = init?.body == null ? undefined : Buffer.from(await new Response(init.body).arrayBuffer());
    return new Promise<Response>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: init?.method ?? "GET",
          headers: Object.fromEntries(headers),
          signal: init?.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined)
                responseHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
            }
            resolve(
              new Response(Buffer.concat(chunks), {
                status: res.statusCode ?? 500,
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  };
}
