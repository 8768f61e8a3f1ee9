// The function process of the node-process executor: loads the handler named by _HANDLER from
// LAMBDA_TASK_ROOT, then serves invocations one at a time through the Lambda Runtime API
// (AWS_LAMBDA_RUNTIME_API), as the Node.js managed runtime does.
//
//   node bootstrap.mjs [<node_modules dir providing @aws-sdk/*>]
import { existsSync } from "node:fs";
import { Agent, request } from "node:http";
import { registerHooks } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

const API = `/2018-06-01/runtime`;
const [apiHost, apiPort] = (process.env.AWS_LAMBDA_RUNTIME_API ?? "").split(":");
// Read by the executor: everything this invocation printed is in the pipe before this line.
const END_MARKER = "\u0000node-process-executor:end ";
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let requestId;

// The managed runtime ships AWS SDK v3: an "@aws-sdk/*" import the bundle leaves out resolves there.
const sdkModules = process.argv[2];
if (sdkModules) {
  const sdkParent = pathToFileURL(join(dirname(sdkModules), "runtime-sdk.js")).href;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        const missing = error?.code === "ERR_MODULE_NOT_FOUND" || error?.code === "MODULE_NOT_FOUND";
        if (!missing || !specifier.startsWith("@aws-sdk/")) throw error;
        return nextResolve(specifier, { ...context, parentURL: sdkParent });
      }
    },
  });
}

// console.* lines as the runtime writes them: time, request id, level, message.
for (const [method, level] of Object.entries({
  log: "INFO",
  info: "INFO",
  warn: "WARN",
  error: "ERROR",
  debug: "DEBUG",
  trace: "TRACE",
})) {
  console[method] = (...args) =>
    process.stdout.write(
      `${new Date().toISOString()}\t${requestId ?? "undefined"}\t${level}\t${format(...args)}\n`,
    );
}

function call(method, path, body, headers = {}) {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { host: apiHost, port: apiPort, method, path: `${API}${path}`, agent, headers },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => resolvePromise({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const errorDocument = (error, errorType = error?.name ?? "Error") => ({
  errorType,
  errorMessage: error?.message ?? String(error),
  trace: typeof error?.stack === "string" ? error.stack.split("\n") : [],
});

function errorReply(path, error, errorType) {
  const document = errorDocument(error, errorType);
  console.error(path === "/init/error" ? "Init Error" : "Invoke Error", JSON.stringify(document));
  return {
    path,
    body: JSON.stringify(document),
    headers: { "Lambda-Runtime-Function-Error-Type": document.errorType },
  };
}

const reportError = (path, error, errorType) => {
  const reply = errorReply(path, error, errorType);
  return call("POST", reply.path, reply.body, reply.headers);
};

async function loadHandler() {
  const name = process.env._HANDLER ?? "";
  const dot = name.lastIndexOf(".");
  const base = resolve(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), name.slice(0, dot));
  const file = [".js", ".mjs", ".cjs"].map((ext) => base + ext).find((candidate) => existsSync(candidate));
  if (dot < 1 || !file)
    throw Object.assign(new Error(`Cannot find module '${base}'`), { type: "Runtime.ImportModuleError" });
  const module = await import(pathToFileURL(file).href);
  const handler = module[name.slice(dot + 1)];
  if (typeof handler !== "function") {
    throw Object.assign(new Error(`${name} is undefined or not exported`), {
      type: "Runtime.HandlerNotFound",
    });
  }
  return handler;
}

function run(handler, event, context) {
  if (handler.length < 3) return handler(event, context);
  return new Promise((done, fail) => {
    const result = handler(event, context, (error, value) => (error ? fail(error) : done(value)));
    result?.then?.(done, fail);
  });
}

async function crash(error) {
  const path = requestId ? `/invocation/${requestId}/error` : "/init/error";
  await reportError(path, error, requestId ? "Runtime.UnhandledPromiseRejection" : undefined).catch(
    () => undefined,
  );
  process.exit(128);
}
process.on("uncaughtException", crash);
process.on("unhandledRejection", crash);

let handler;
try {
  handler = await loadHandler();
} catch (error) {
  await reportError("/init/error", error, error?.type);
  process.exit(1);
}

for (;;) {
  const next = await call("GET", "/invocation/next");
  requestId = next.headers["lambda-runtime-aws-request-id"];
  const deadline = Number(next.headers["lambda-runtime-deadline-ms"]);
  process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"] ?? "";
  const context = {
    awsRequestId: requestId,
    invokedFunctionArn: next.headers["lambda-runtime-invoked-function-arn"],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  let reply;
  try {
    const result = await run(handler, JSON.parse(next.body.toString("utf8")), context);
    reply = { path: `/invocation/${requestId}/response`, body: JSON.stringify(result ?? null), headers: {} };
  } catch (error) {
    reply = errorReply(`/invocation/${requestId}/error`, error);
  }
  process.stdout.write(`${END_MARKER}${requestId}\n`);
  await call("POST", reply.path, reply.body, reply.headers);
  requestId = undefined;
}
