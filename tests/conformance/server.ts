/**
 * The server under test for the Connect conformance runner (server mode):
 * reads a length-prefixed ServerCompatRequest from stdin, serves the
 * ConformanceService on lib/rpc's gRPC-web gateway behind its Lambda adapter,
 * over HTTP the way API Gateway would (tools/local-services/lambda-http.ts),
 * answers with a length-prefixed ServerCompatResponse, and runs until SIGTERM.
 *
 *   node --import tsx tests/conformance/server.ts [--lambda-timeout-ms N]
 *
 * Without --lambda-timeout-ms the Lambda context has no deadline; with it,
 * every call runs in an invocation of that timeout, as on AWS.
 */
import { parseArgs } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createGrpcWebGateway, lambdaHandler } from "../../lib/rpc/index.ts";
import { serveLambda } from "../../tools/local-services/lambda-http.ts";
import { conformanceService } from "./conformance-service.ts";
import {
  ServerCompatRequestSchema,
  ServerCompatResponseSchema,
} from "./gen/connectrpc/conformance/v1/server_compat_pb.ts";
import { ConformanceService } from "./gen/connectrpc/conformance/v1/service_pb.ts";

// What the gateway accepts when the runner sets no receive limit.
const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

const { values } = parseArgs({ options: { "lambda-timeout-ms": { type: "string" } } });
const lambdaTimeoutMs =
  values["lambda-timeout-ms"] === undefined ? Number.POSITIVE_INFINITY : Number(values["lambda-timeout-ms"]);

const request = fromBinary(ServerCompatRequestSchema, await readSizeDelimited(process.stdin));
const gateway = createGrpcWebGateway(
  {
    maxRequestBytes: request.messageReceiveLimit || DEFAULT_MAX_REQUEST_BYTES,
    onUnexpectedError: (error, procedure) => console.error(`unexpected error in ${procedure}:`, error),
  },
  (services) => services.add(ConformanceService, conformanceService()),
);
const server = await serveLambda(lambdaHandler(gateway, { deadlineMarginMs: 200 }), {
  timeoutMs: lambdaTimeoutMs,
});
const { hostname, port } = new URL(server.url);
writeSizeDelimited(
  toBinary(
    ServerCompatResponseSchema,
    create(ServerCompatResponseSchema, { host: hostname, port: Number(port) }),
  ),
);

process.once("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});

async function readSizeDelimited(input: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of input) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length < 4) continue;
    const all = Buffer.concat(chunks);
    const size = all.readUInt32BE(0);
    if (all.length >= 4 + size) return all.subarray(4, 4 + size);
  }
  throw new Error("stdin closed before a whole ServerCompatRequest arrived");
}

function writeSizeDelimited(message: Uint8Array): void {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(message.length);
  process.stdout.write(Buffer.concat([prefix, message]));
}
