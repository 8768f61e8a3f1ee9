/**
 * connectrpc.conformance.v1.ConformanceService as the conformance suite
 * describes it for servers under test: echo what was received, answer what
 * the request's response definition asks for. Unary and server streaming
 * only; the other methods stay unimplemented (a buffered Lambda response
 * cannot take a client stream).
 */
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { type Any, anyPack } from "@bufbuild/protobuf/wkt";
import { type Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  type ConformancePayload_RequestInfo,
  ConformancePayload_RequestInfoSchema,
  type ConformanceService,
  type Error as ErrorDefinition,
  type Header,
  HeaderSchema,
  ServerStreamRequestSchema,
  UnaryRequestSchema,
} from "./gen/connectrpc/conformance/v1/service_pb.ts";

export function conformanceService(): Partial<ServiceImpl<typeof ConformanceService>> {
  return {
    async unary(request, context) {
      const definition = request.responseDefinition;
      const info = requestInfo(context, UnaryRequestSchema, request);
      if (definition) {
        appendHeaders(context.responseHeader, definition.responseHeaders);
        appendHeaders(context.responseTrailer, definition.responseTrailers);
      }
      if (definition?.response.case === "error") {
        throw errorFrom(definition.response.value, info);
      }
      await sleep(definition?.responseDelayMs ?? 0, context.signal);
      return {
        payload: {
          data: definition?.response.case === "responseData" ? definition.response.value : new Uint8Array(0),
          requestInfo: info,
        },
      };
    },

    async *serverStream(request, context) {
      const definition = request.responseDefinition;
      if (!definition) return;
      appendHeaders(context.responseHeader, definition.responseHeaders);
      appendHeaders(context.responseTrailer, definition.responseTrailers);
      let sent = 0;
      for (const data of definition.responseData) {
        await sleep(definition.responseDelayMs, context.signal);
        yield {
          payload: {
            data,
            ...(sent === 0 ? { requestInfo: requestInfo(context, ServerStreamRequestSchema, request) } : {}),
          },
        };
        sent += 1;
      }
      if (definition.error) {
        const info = sent === 0 ? requestInfo(context, ServerStreamRequestSchema, request) : undefined;
        throw errorFrom(definition.error, info);
      }
    },
  };
}

function requestInfo<Desc extends DescMessage>(
  context: HandlerContext,
  schema: Desc,
  request: MessageShape<Desc>,
): ConformancePayload_RequestInfo {
  const headers: Header[] = [];
  context.requestHeader.forEach((value, name) => {
    headers.push(create(HeaderSchema, { name, value: [value] }));
  });
  const timeoutMs = context.timeoutMs();
  return create(ConformancePayload_RequestInfoSchema, {
    requestHeaders: headers,
    ...(timeoutMs === undefined ? {} : { timeoutMs: BigInt(timeoutMs) }),
    requests: [anyPack(schema, request)],
  });
}

function errorFrom(
  definition: ErrorDefinition,
  info: ConformancePayload_RequestInfo | undefined,
): ConnectError {
  const error = new ConnectError(definition.message ?? "", definition.code as number as Code);
  // Details as the client sent them (packed in Any), the request's echo last.
  error.details.push(...definition.details.map(incomingDetail));
  if (info) error.details.push(incomingDetail(anyPack(ConformancePayload_RequestInfoSchema, info)));
  return error;
}

function incomingDetail(any: Any): { type: string; value: Uint8Array } {
  return { type: any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1), value: any.value };
}

function appendHeaders(target: Headers, headers: readonly Header[]): void {
  for (const header of headers) for (const value of header.value) target.append(header.name, value);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
