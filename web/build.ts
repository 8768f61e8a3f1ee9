/**
 * `npm run build:web`: the web client as static files for any host.
 *
 *   API_URL=https://abc123.execute-api.eu-west-1.amazonaws.com npm run build:web [-- --out web/dist]
 *
 * Set the API's CORS_ALLOWED_ORIGINS to the origin the files are served from.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { bundleWebClient } from "./bundle.ts";

const { values } = parseArgs({
  options: {
    "api-url": { type: "string", default: process.env.API_URL ?? "" },
    out: { type: "string", default: "web/dist" },
  },
});
const apiUrl = values["api-url"] ?? "";
if (!apiUrl) {
  console.error("usage: API_URL=<https://your-api> npm run build:web [-- --out <dir>]");
  process.exit(2);
}
const out = resolve(values.out ?? "web/dist");
const assets = await bundleWebClient({ apiUrl, devServer: false, minify: true });
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
for (const [name, asset] of assets) await writeFile(join(out, name), asset.body);
console.log(`web client for ${apiUrl}: ${[...assets.keys()].join(", ")} in ${out}`);
