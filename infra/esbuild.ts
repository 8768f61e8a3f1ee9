/** How serverless-esbuild bundles each function (custom.esbuild). */
import { read } from "../lib/config/declare.ts";
import { ESBUILD_WORK_FOLDER } from "../lib/config/stage.ts";

type Env = Readonly<Record<string, string | undefined>>;

export function esbuildOptions(env: Env) {
  return {
    bundle: true,
    minify: true,
    sourcemap: "linked",
    // Stack traces need names and lines, not the sources themselves.
    sourcesContent: false,
    // What a handler loads with import() only when a setting asks for it (the X-Ray SDKs) goes into
    // chunks of its own, so a cold start without it neither reads nor parses that code.
    // Named after the bundle ("handler.*") so each function's zip takes only its own chunks
    // (serverless-esbuild leaves files derived from another function's bundle out of a zip).
    splitting: true,
    chunkNames: "handler.[name]-[hash]",
    target: "node24",
    platform: "node",
    format: "esm",
    outputFileExtension: ".mjs",
    mainFields: ["module", "main"],
    // Bundled CommonJS dependencies (pg, kafkajs) call require() for Node builtins.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    // The runtime ships AWS SDK v3 (only client-lambda's InvokeCommand is used: a stable API).
    // pg-native is pg's optional native binding; never used, never installed.
    exclude: ["@aws-sdk/*", "pg-native"],
    // Two builds at once (tests, a running `npm run dev`) each need their own work folder.
    outputWorkFolder: read(env, ESBUILD_WORK_FOLDER),
  };
}
