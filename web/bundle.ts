/**
 * Builds the web client: esbuild bundles web/src into one ES module; the
 * API's URL is fixed at build time (and allowed by the page's CSP, nothing else).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const WEB_ROOT = fileURLToPath(new URL("./", import.meta.url));

export interface WebBuildOptions {
  /** Where the page calls the API, e.g. https://api.example.com or http://localhost:3000 */
  apiUrl: string;
  /** Served by `npm run dev`: sign-in as a demo owner and the event stream. Never in a static build. */
  devServer: boolean;
  minify?: boolean;
}

export interface WebAsset {
  contentType: string;
  body: Uint8Array;
}

/** The page's files by name: index.html, app.js, app.js.map, styles.css. */
export async function bundleWebClient(options: WebBuildOptions): Promise<Map<string, WebAsset>> {
  const apiUrl = checkApiUrl(options.apiUrl);
  const result = await build({
    entryPoints: [`${WEB_ROOT}src/main.ts`],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome111", "firefox111", "safari16"],
    outfile: `${WEB_ROOT}dist/app.js`,
    write: false,
    sourcemap: "linked",
    minify: options.minify ?? false,
    legalComments: "none",
    logLevel: "silent",
    define: {
      __API_URL__: JSON.stringify(apiUrl),
      __DEV_SERVER__: JSON.stringify(options.devServer),
    },
  });
  const assets = new Map<string, WebAsset>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf("/") + 1);
    const contentType = name.endsWith(".map") ? "application/json" : "text/javascript; charset=utf-8";
    assets.set(name, { contentType, body: file.contents });
  }
  const html = (await readFile(`${WEB_ROOT}index.html`, "utf8")).replaceAll(
    "%API_ORIGIN%",
    new URL(apiUrl).origin,
  );
  assets.set("index.html", { contentType: "text/html; charset=utf-8", body: new TextEncoder().encode(html) });
  assets.set("styles.css", {
    contentType: "text/css; charset=utf-8",
    body: await readFile(`${WEB_ROOT}styles.css`),
  });
  return assets;
}

function checkApiUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`the API URL must be absolute, like https://api.example.com (got "${value}")`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new Error(`the API URL must be http or https (got "${value}")`);
  return url.toString().replace(/\/+$/, "");
}
