import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const execFileAsync = promisify(execFile);
const STACKS_MODULE = join(import.meta.dirname, "../../lib/observability/source-mapped-stacks.ts");

// Bundled as the functions are (minified ESM, linked map, no --enable-source-maps):
// what the frames of a thrown error say about the sources.
const THROWER = `export function chargeCard(amount: number): never {
  const reason = amount > 10 ? "over limit" : "declined";
  throw new Error(\`card \${reason}\`);
}
`;
const ENTRY = (
  install: boolean,
) => `${install ? `import ${JSON.stringify(STACKS_MODULE)};\n` : ""}import { chargeCard } from "./thrower.ts";
try {
  chargeCard(20);
} catch (error) {
  process.stdout.write(JSON.stringify({ stack: (error as Error).stack, plain: new Error("no frame of ours").stack }));
}
`;
// Thrown while the bundle initialises, before any handler exists: the install must come first.
const INIT_THROWER = `import ${JSON.stringify(STACKS_MODULE)};
import "./init-fails.ts";
`;
const INIT_FAILS = `const settings = JSON.parse("{}") as { region?: string };
if (!settings.region) throw new Error("region is required");
`;

let dir: string;

async function bundle(entry: string, name: string): Promise<string> {
  const entryFile = join(dir, `${name}.ts`);
  await writeFile(entryFile, entry);
  const outfile = join(dir, "out", `${name}.mjs`);
  await build({
    entryPoints: [entryFile],
    outfile,
    bundle: true,
    minify: true,
    sourcemap: "linked",
    sourcesContent: false,
    format: "esm",
    platform: "node",
    target: "node22",
  });
  return outfile;
}

async function run(file: string): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(process.execPath, [file], { env: { PATH: process.env.PATH ?? "" } }).catch(
    (error: { stdout: string; stderr: string }) => ({ stdout: error.stdout, stderr: error.stderr }),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "source-mapped-stacks-"));
  await writeFile(join(dir, "thrower.ts"), THROWER);
  await writeFile(join(dir, "init-fails.ts"), INIT_FAILS);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("source-mapped stacks without --enable-source-maps", () => {
  it("a frame in a bundle names the TypeScript file, line, column and function", async () => {
    const mapped = JSON.parse((await run(await bundle(ENTRY(true), "mapped"))).stdout) as { stack: string };
    const frames = mapped.stack.split("\n");
    expect(frames[0]).toBe("Error: card over limit");
    expect(frames[1]).toBe(`    at chargeCard (${join(dir, "thrower.ts")}:3:9)`);
    expect(frames[2]).toBe(`    at ${join(dir, "mapped.ts")}:4:3`);
  });

  it("without it the same bundle's frames point into the minified output", async () => {
    const unmapped = JSON.parse((await run(await bundle(ENTRY(false), "unmapped"))).stdout) as {
      stack: string;
    };
    expect(unmapped.stack).toContain("out/unmapped.mjs:");
    expect(unmapped.stack).not.toContain("thrower.ts");
  });

  it("an error thrown while the bundle initialises is mapped", async () => {
    const { stderr } = await run(await bundle(INIT_THROWER, "init"));
    expect(stderr).toContain("Error: region is required");
    expect(stderr).toContain(`${join(dir, "init-fails.ts")}:2:`);
  });

  it("a stack with no frame in a mapped bundle is left to Node's own formatter", async () => {
    // The same frame formatted before and after installing (the eval'd script has no map).
    const { stdout } = await execFileAsync(process.execPath, [
      "--input-type=module",
      "-e",
      `const make = () => new Error("x").stack.split("\\n").slice(0, 2).join("\\n");
       const before = make();
       await import(${JSON.stringify(STACKS_MODULE)});
       process.stdout.write(JSON.stringify({ before, after: make() }));`,
    ]);
    const { before, after } = JSON.parse(stdout) as { before: string; after: string };
    expect(before).toMatch(/^Error: x\n {4}at make \(/);
    expect(after).toBe(before);
  });
});
