/**
 * `serverless package` into a directory of our choosing, with no AWS
 * credentials, and the helpers to read what it produced. Used by the package
 * test and the cold-start benchmark.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import JSZip from "jszip";
import { PROJECT_ROOT } from "./offline.ts";

const execFileAsync = promisify(execFile);
const SERVERLESS_BIN = join(PROJECT_ROOT, "node_modules", "serverless", "bin", "serverless.js");

export const FUNCTION_KEYS = ["api", "drainOutbox", "deadLetter", "maintenance", "migrate"] as const;
export type FunctionKey = (typeof FUNCTION_KEYS)[number];

export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string | string[];
}

export interface CfnTemplate {
  Parameters?: Record<string, unknown>;
  Resources: Record<string, CfnResource>;
}

export interface PackagedService {
  dir: string;
  template: CfnTemplate;
  zipPath(fn: FunctionKey): string;
}

/**
 * Packages `stage` into `outDir`. The environment carries no AWS credentials
 * or config files, so this proves packaging never needs them.
 */
export async function packageService(
  stage: string,
  outDir: string,
  env: Record<string, string> = {},
): Promise<PackagedService> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_")));
  await execFileAsync(process.execPath, [SERVERLESS_BIN, "package", "--stage", stage, "--package", outDir], {
    cwd: PROJECT_ROOT,
    env: {
      ...clean,
      AWS_CONFIG_FILE: "/nonexistent/aws-config",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
      AWS_EC2_METADATA_DISABLED: "true",
      SLS_TELEMETRY_DISABLED: "1",
      SLS_NOTIFICATIONS_MODE: "off",
      // A build folder of its own: a running `npm run dev` or another test may be bundling too.
      ESBUILD_WORK_FOLDER: `.esbuild/package-${stage}-${process.pid}-${Date.now()}`,
      ...env,
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  const template = JSON.parse(
    await readFile(join(outDir, "cloudformation-template-update-stack.json"), "utf8"),
  ) as CfnTemplate;
  return { dir: outDir, template, zipPath: (fn) => join(outDir, `${fn}.zip`) };
}

/** Extracts a function's zip into `dir` (as Lambda lays it out in /var/task); returns the file names. */
export async function extractZip(zipPath: string, dir: string): Promise<string[]> {
  const zip = await JSZip.loadAsync(await readFile(zipPath));
  const names: string[] = [];
  for (const entry of Object.values(zip.files)) {
    if (entry.dir) continue;
    const target = join(dir, entry.name);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, await entry.async("nodebuffer"));
    names.push(entry.name);
  }
  return names.sort();
}

/** Uncompressed size of each file in a zip. */
export async function zipEntrySizes(zipPath: string): Promise<Map<string, number>> {
  const zip = await JSZip.loadAsync(await readFile(zipPath));
  const sizes = new Map<string, number>();
  for (const entry of Object.values(zip.files)) {
    if (!entry.dir) sizes.set(entry.name, (await entry.async("nodebuffer")).length);
  }
  return sizes;
}

/** The Lambda resource of a function key (api -> ApiLambdaFunction). */
export function lambdaResource(template: CfnTemplate, fn: FunctionKey): CfnResource {
  const id = `${fn.charAt(0).toUpperCase()}${fn.slice(1)}LambdaFunction`;
  const resource = template.Resources[id];
  if (!resource) throw new Error(`no ${id} in the template`);
  return resource;
}

/** The bundle file of a function's handler, e.g. functions/api/handler.mjs. */
export function handlerFile(resource: CfnResource): { file: string; exportName: string } {
  const handler = String(resource.Properties.Handler);
  const dot = handler.lastIndexOf(".");
  return { file: `${handler.slice(0, dot)}.mjs`, exportName: handler.slice(dot + 1) };
}
